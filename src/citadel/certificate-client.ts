import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/errors.ts';
import { certificateServiceDefinition } from './ca-service-definition.ts';
import { derToPem } from './der.ts';
import { CertificateRejectedError, CertificateRequestError } from './errors.ts';
import { DEFAULT_KEY_ALGORITHM, generateKeyPair, type KeyAlgorithm } from './key-algorithm.ts';
import { formatSpiffeId, type WorkloadIdentity } from './spiffe.ts';
import { rootsFromPem, verifyPeerChain } from './trust-bundle.ts';
import { buildCsr, encodeName } from './x509-build.ts';

/** A workload's key and certificate, ready for `tls.createSecureContext({ key, cert, ca })`. */
export interface CertBundle {
  /** PKCS#8 PEM of the key (EC P-256 or RSA-2048), generated locally; it never leaves the process. */
  privateKeyPem: string;
  /** Leaf then intermediate(s), concatenated PEM (roots excluded). */
  certChainPem: string;
  /** The trust bundle the chain was verified against. */
  rootsPem: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
}

/** Options of requestCertificate. */
export interface RequestCertificateOptions {
  /** Citadel's address, `host:port` (the control plane's 15012). */
  target: string;
  /** Roots that Citadel's serving certificate, and the issued chain, must chain to. */
  rootsPem: string;
  /** TLS name Citadel's certificate is checked against, e.g. `istiod.meshfed-system.svc`. */
  serverName: string;
  /**
   * The caller's credential, sent as `authorization: Bearer <token>`: a bootstrap token, or a
   * function read at each request (a projected service-account token, which the kubelet rotates
   * in its file).
   */
  token: string | (() => string);
  identity: WorkloadIdentity;
  /** Requested lifetime; Citadel's default (24 h) when omitted. */
  ttlSeconds?: number;
  /** Algorithm of the workload's own key; default ECDSA P-256. */
  keyAlgorithm?: KeyAlgorithm;
  /** Deadline of the RPC; default 10 s. */
  timeoutMs?: number;
}

/** The `cert_chain` of a decoded IstioCertificateResponse: one or more PEM strings, or undefined. */
function certChainOf(raw: unknown): string[] | undefined {
  if (typeof raw !== 'object' || raw === null || !('cert_chain' in raw)) return undefined;
  const chain: unknown = raw.cert_chain;
  if (!Array.isArray(chain) || chain.length === 0) return undefined;
  const out: string[] = [];
  for (const c of chain) {
    if (typeof c !== 'string') return undefined;
    out.push(c);
  }
  return out;
}

/** Generates a key of `algorithm` and a CSR asking for `spiffeId` as its only SAN. */
export function generateKeyAndCsr(
  spiffeId: string,
  algorithm: KeyAlgorithm = DEFAULT_KEY_ALGORITHM,
): { privateKeyPem: string; publicKeyDer: Buffer; csrPem: string } {
  const { privateKey, publicKeyDer } = generateKeyPair(algorithm);
  const csr = buildCsr({ subject: encodeName({}), publicKey: publicKeyDer, privateKey, subjectAltNames: [{ type: 'uri', value: spiffeId }] });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyDer,
    csrPem: derToPem(csr, 'CERTIFICATE REQUEST'),
  };
}

function callCreateCertificate(opts: RequestCertificateOptions, request: { csr: string; validity_duration: string }): Promise<unknown> {
  const method = certificateServiceDefinition()['CreateCertificate'];
  if (!method) throw new Error('CreateCertificate missing from the service definition');
  const client = new grpc.Client(opts.target, grpc.credentials.createSsl(Buffer.from(opts.rootsPem)), {
    'grpc.ssl_target_name_override': opts.serverName,
    'grpc.default_authority': opts.serverName,
  });
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${typeof opts.token === 'function' ? opts.token() : opts.token}`);
  const deadline = new Date(Date.now() + (opts.timeoutMs ?? 10_000));
  return new Promise<unknown>((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      { deadline },
      (err: grpc.ServiceError | null, value?: unknown) => {
        client.close();
        if (err) {
          reject(new CertificateRequestError(`CreateCertificate failed: ${grpc.status[err.code]}: ${err.details}`, { cause: err, grpcCode: err.code }));
        } else {
          resolve(value);
        }
      },
    );
  });
}

/**
 * Obtains a workload certificate from Citadel: generates a fresh key and CSR, calls
 * CreateCertificate over TLS (Citadel verified against `rootsPem` and `serverName`), then checks
 * the answer — the leaf certifies our key, carries exactly our SPIFFE ID and chains to `rootsPem`.
 * Rejects with CertificateRequestError (transport or gRPC status, see `grpcCode`) or
 * CertificateRejectedError (the answer fails a check).
 */
export async function requestCertificate(opts: RequestCertificateOptions): Promise<CertBundle> {
  const spiffeId = formatSpiffeId(opts.identity);
  const { privateKeyPem, publicKeyDer, csrPem } = generateKeyAndCsr(spiffeId, opts.keyAlgorithm);
  const raw = await callCreateCertificate(opts, { csr: csrPem, validity_duration: String(opts.ttlSeconds ?? 0) });
  const certChain = certChainOf(raw);
  if (!certChain) throw new CertificateRejectedError('Citadel answered without a certificate chain');
  let chain: X509Certificate[];
  try {
    chain = certChain.map((pem) => new X509Certificate(pem));
  } catch (e) {
    throw new CertificateRejectedError(`Citadel answered an unparsable certificate: ${errorMessage(e)}`, { cause: e });
  }
  const leaf = chain[0]!;
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(publicKeyDer)) {
    throw new CertificateRejectedError('issued certificate does not certify the requested key');
  }
  const roots = rootsFromPem(opts.rootsPem);
  const verified = verifyPeerChain(chain, roots);
  if (!verified.ok) throw new CertificateRejectedError(`issued chain rejected: ${verified.errors.join('; ')}`);
  if (verified.value !== spiffeId) throw new CertificateRejectedError(`issued certificate is for ${verified.value}, not ${spiffeId}`);
  const rootPrints = new Set(roots.map((r) => r.fingerprint256));
  return {
    privateKeyPem,
    certChainPem: chain
      .filter((c) => !rootPrints.has(c.fingerprint256))
      .map((c) => derToPem(c.raw, 'CERTIFICATE'))
      .join(''),
    rootsPem: opts.rootsPem,
    spiffeId,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}
