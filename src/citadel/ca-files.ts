import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { derToPem, pemBlocks } from './der.ts';
import { CaMaterialError } from './errors.ts';
import { readCertificate } from './x509-read.ts';

/** Istio's plug-in CA file names, inside one cluster's folder. */
export const CA_FILES = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  root: 'root-cert.pem',
} as const;

/** The shared root's files, at the top of the CA folder. */
export const ROOT_FILES = { cert: 'root-cert.pem', key: 'root-key.pem' } as const;

/**
 * One cluster's signing CA, loaded and checked by loadCa. Immutable; shared by the signer, the
 * gRPC service and the serving-certificate issuer.
 */
export interface CaMaterial {
  /** The signing (intermediate) certificate. */
  readonly cert: X509Certificate;
  readonly privateKey: KeyObject;
  /** PEMs from the signing certificate up to, but excluding, the root: [intermediate, …]. */
  readonly chainPems: readonly string[];
  /** The root the chain ends at (one of `roots`): the last certificate of every issued chain. */
  readonly root: X509Certificate;
  readonly rootPem: string;
  /**
   * The trust bundle, `root-cert.pem`: every root the cluster trusts, `root` among them. Holds
   * old+new during a root rotation; peers and clients are verified against all of them.
   */
  readonly roots: readonly X509Certificate[];
  readonly bundlePem: string;
  /** DER of the signing certificate's subject: the issuer Name of everything it signs. */
  readonly subjectDer: Buffer;
  /** DER SubjectPublicKeyInfo of the signing key (authority key identifier of issued certs). */
  readonly publicKeyDer: Buffer;
}

export function certificatesFromPem(pem: string): X509Certificate[] {
  return pemBlocks(pem, 'CERTIFICATE').map((der) => new X509Certificate(der));
}

export function certificateToPem(cert: X509Certificate): string {
  return derToPem(cert.raw, 'CERTIFICATE');
}

/**
 * Builds CaMaterial from PEM text, checking that the key matches the certificate, that the
 * certificate is a CA, and that each link of the chain is signed by the next up to one of the
 * roots of `rootPem` (the trust bundle: one or more roots). Throws CaMaterialError (a start-up
 * failure; a live reload keeps the material it had).
 */
export function caMaterialFromPem(pems: { certPem: string; keyPem: string; chainPem: string; rootPem: string }): CaMaterial {
  const [cert] = certificatesFromPem(pems.certPem);
  const roots = certificatesFromPem(pems.rootPem);
  if (!cert) throw new CaMaterialError(`${CA_FILES.cert} holds no certificate`);
  if (roots.length === 0) throw new CaMaterialError(`${CA_FILES.root} holds no certificate`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pems.keyPem);
  } catch (e) {
    throw new CaMaterialError(`${CA_FILES.key} is not a private key`, { cause: e });
  }
  const publicKeyDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!publicKeyDer.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new CaMaterialError(`${CA_FILES.key} does not match ${CA_FILES.cert}`);
  }
  const facts = readCertificate(cert.raw);
  if (!facts.ok) throw new CaMaterialError(`${CA_FILES.cert}: ${facts.errors.join('; ')}`);
  if (!facts.value.isCa) throw new CaMaterialError(`${CA_FILES.cert} is not a CA certificate`);
  const isRoot = (c: X509Certificate): boolean => roots.some((r) => r.raw.equals(c.raw));
  const middle = certificatesFromPem(pems.chainPem).filter((c) => !c.raw.equals(cert.raw) && !isRoot(c));
  const chain = [cert, ...middle];
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CaMaterialError(`certificate "${child.subject}" is not signed by "${parent.subject}"`);
    }
  }
  const top = chain[chain.length - 1]!;
  const root = roots.find((r) => top.checkIssued(r) && top.verify(r.publicKey));
  if (!root) throw new CaMaterialError(`certificate "${top.subject}" is not signed by any root of ${CA_FILES.root}`);
  return Object.freeze({
    cert,
    privateKey,
    chainPems: Object.freeze(chain.map(certificateToPem)),
    root,
    rootPem: certificateToPem(root),
    roots: Object.freeze(roots),
    bundlePem: roots.map(certificateToPem).join(''),
    subjectDer: facts.value.subject,
    publicKeyDer,
  });
}

/** Reads one cluster's plug-in CA files (ca-cert, ca-key, cert-chain, root-cert) from `clusterDir`. */
export async function loadCa(clusterDir: string): Promise<CaMaterial> {
  const names = [CA_FILES.cert, CA_FILES.key, CA_FILES.chain, CA_FILES.root];
  const read = await Promise.allSettled(names.map((name) => readFile(path.join(clusterDir, name), 'utf8')));
  // Every unreadable file, in a fixed order, whichever read failed first.
  const failed = names.filter((_, i) => read[i]?.status === 'rejected');
  if (failed.length > 0) {
    const first = read.find((r) => r.status === 'rejected');
    throw new CaMaterialError(`cannot read ${failed.map((name) => path.join(clusterDir, name)).join(', ')}`, {
      cause: first?.status === 'rejected' ? first.reason : undefined,
    });
  }
  const [certPem = '', keyPem = '', chainPem = '', rootPem = ''] = read.map((r) => (r.status === 'fulfilled' ? r.value : ''));
  return caMaterialFromPem({ certPem, keyPem, chainPem, rootPem });
}
