import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { fail, ok, type Result } from '../common/result.ts';
import type { CaMaterial } from './ca-files.ts';
import { derToPem, OID, pemBlocks } from './der.ts';
import { type CitadelError, CsrInvalidError, IdentityMismatchError, ValidityInvalidError } from './errors.ts';
import { formatSpiffeId, type WorkloadIdentity } from './spiffe.ts';
import { buildCertificate, encodeName, type GeneralName } from './x509-build.ts';
import { readCsr } from './x509-read.ts';

/** Workload certificates live at most 24 h (and by default exactly that), as in Istio. */
export const MAX_WORKLOAD_TTL_SECONDS = 24 * 3600;
/** notBefore is backdated by this much to absorb clock skew between nodes. */
const BACKDATE_MS = 60_000;

/** Input of signWorkloadCsr. */
export interface SignWorkloadCsrOptions {
  ca: CaMaterial;
  /** PKCS#10 request, PEM (`CERTIFICATE REQUEST` or `NEW CERTIFICATE REQUEST`). */
  csrPem: string;
  /** The authenticated caller: the only identity the certificate may carry. */
  identity: WorkloadIdentity;
  /** Requested lifetime; undefined or 0 means the 24 h default; capped at 24 h and at the CA's own expiry. */
  ttlSeconds?: number;
  now?: Date;
}

/** Validates a requested TTL and caps it; returns the lifetime in ms. */
function lifetimeMs(ttlSeconds: number | undefined, max: number): Result<number, CitadelError> {
  if (ttlSeconds === undefined || ttlSeconds === 0) return ok(max * 1000);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 0) {
    return fail(new ValidityInvalidError(`invalid validity ${ttlSeconds}: expected a positive whole number of seconds`));
  }
  return ok(Math.min(ttlSeconds, max) * 1000);
}

/** The end of a validity period starting now, never past the CA certificate's own notAfter. */
function notAfterFor(ca: CaMaterial, now: Date, ms: number): Date {
  return new Date(Math.min(now.getTime() + ms, new Date(ca.cert.validTo).getTime()));
}

/** Curves a workload key may use (NIST P-256 and P-384, as Istio's CA accepts). */
const ACCEPTED_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1']);
const MIN_RSA_BITS = 2048;

/** Why a CSR's public key is refused (an unknown type, a weak RSA modulus, another curve), or undefined. */
function weakKeyReason(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    return ACCEPTED_CURVES.has(details.namedCurve ?? '') ? undefined : `CSR key is on curve ${details.namedCurve ?? '?'}; accepted: P-256, P-384`;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    return bits >= MIN_RSA_BITS ? undefined : `CSR key is RSA-${bits}; RSA keys must have at least ${MIN_RSA_BITS} bits`;
  }
  return `CSR key type ${key.asymmetricKeyType ?? '?'} is not accepted (ECDSA P-256/P-384 or RSA ≥ ${MIN_RSA_BITS})`;
}

/**
 * Signs a workload's CSR after checking proof of possession (the CSR's own signature), its key
 * (ECDSA P-256/P-384 or RSA of at least 2048 bits) and that it asks for no SAN other than the
 * caller's SPIFFE ID. The leaf carries exactly that URI SAN, an
 * empty subject, EKU serverAuth+clientAuth, keyUsage digitalSignature+keyEncipherment, CA:false.
 * Returns the chain [leaf, intermediate(s)…, root], root last, as Istio does.
 * Errors: CsrInvalidError, IdentityMismatchError, ValidityInvalidError.
 */
export function signWorkloadCsr(opts: SignWorkloadCsrOptions): Result<{ certChainPem: string[] }, CitadelError> {
  const now = opts.now ?? new Date();
  const spiffeId = formatSpiffeId(opts.identity);
  const ders = [...pemBlocks(opts.csrPem, 'CERTIFICATE REQUEST'), ...pemBlocks(opts.csrPem, 'NEW CERTIFICATE REQUEST')];
  if (ders.length !== 1) return fail(new CsrInvalidError(`expected one PEM CERTIFICATE REQUEST, found ${ders.length}`));
  const csr = readCsr(ders[0]!);
  if (!csr.ok) return fail(new CsrInvalidError(csr.errors.join('; ')));
  for (const san of csr.value.subjectAltNames) {
    if (san.type !== 'uri' || san.value !== spiffeId) {
      const asked = san.type === 'other' ? `a SAN of kind [${san.tag}]` : `${san.type.toUpperCase()}:${san.value}`;
      return fail(new IdentityMismatchError(`CSR asks for ${asked}, but the caller is ${spiffeId}`));
    }
  }
  const weak = weakKeyReason(csr.value.publicKey);
  if (weak) return fail(new CsrInvalidError(weak));
  const life = lifetimeMs(opts.ttlSeconds, MAX_WORKLOAD_TTL_SECONDS);
  if (!life.ok) return life;
  const leaf = buildCertificate({
    subject: encodeName({}),
    issuer: opts.ca.subjectDer,
    subjectPublicKey: csr.value.publicKeyDer,
    issuerPublicKey: opts.ca.publicKeyDer,
    signingKey: opts.ca.privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: notAfterFor(opts.ca, now, life.value),
    ca: false,
    extKeyUsage: [OID.serverAuth, OID.clientAuth],
    subjectAltNames: [{ type: 'uri', value: spiffeId }],
  });
  return ok({ certChainPem: [derToPem(leaf, 'CERTIFICATE'), ...opts.ca.chainPems, opts.ca.rootPem] });
}

/** Input of issueServingCertificate. */
export interface ServingCertificateOptions {
  ca: CaMaterial;
  dnsNames: string[];
  ipAddresses?: string[];
  /** Optional URI SAN, e.g. the control plane's own SPIFFE ID. */
  spiffeId?: string;
  /** Lifetime in seconds (capped at the CA's own expiry). */
  ttlSeconds: number;
  now?: Date;
}

/** A key and certificate for a TLS server (the control plane's 15012 port). */
export interface ServingCertificate {
  privateKeyPem: string;
  /** Leaf then intermediate(s), concatenated PEM, as TLS `cert` expects. */
  certChainPem: string;
  rootPem: string;
  notAfter: Date;
}

/**
 * Issues a serving certificate with a fresh EC P-256 key, for the control plane's own TLS port.
 * Throws ValidityInvalidError on a bad TTL and TypeError on an unparsable IP address (caller's
 * configuration, validated at startup).
 */
export function issueServingCertificate(opts: ServingCertificateOptions): ServingCertificate {
  const now = opts.now ?? new Date();
  if (!Number.isSafeInteger(opts.ttlSeconds) || opts.ttlSeconds <= 0) {
    throw new ValidityInvalidError(`invalid ttlSeconds ${opts.ttlSeconds}`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const sans: GeneralName[] = [
    ...opts.dnsNames.map((value): GeneralName => ({ type: 'dns', value })),
    ...(opts.ipAddresses ?? []).map((value): GeneralName => ({ type: 'ip', value })),
    ...(opts.spiffeId ? [{ type: 'uri', value: opts.spiffeId } satisfies GeneralName] : []),
  ];
  const notAfter = notAfterFor(opts.ca, now, opts.ttlSeconds * 1000);
  const leaf = buildCertificate({
    subject: encodeName(opts.dnsNames[0] ? { commonName: opts.dnsNames[0] } : {}),
    issuer: opts.ca.subjectDer,
    subjectPublicKey: publicKey.export({ type: 'spki', format: 'der' }),
    issuerPublicKey: opts.ca.publicKeyDer,
    signingKey: opts.ca.privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    ca: false,
    extKeyUsage: [OID.serverAuth, OID.clientAuth],
    subjectAltNames: sans,
  });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certChainPem: [derToPem(leaf, 'CERTIFICATE'), ...opts.ca.chainPems].join(''),
    rootPem: opts.ca.rootPem,
    notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000),
  };
}
