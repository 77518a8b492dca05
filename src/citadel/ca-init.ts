import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CA_FILES, certificatesFromPem, loadCa, ROOT_FILES } from './ca-files.ts';
import { derToPem } from './der.ts';
import { CaMaterialError } from './errors.ts';
import { DEFAULT_KEY_ALGORITHM, generateKeyPair, type KeyAlgorithm } from './key-algorithm.ts';
import { buildCertificate, encodeName } from './x509-build.ts';
import { readCertificate } from './x509-read.ts';

/** Options of initCa. */
export interface InitCaOptions {
  /** CA folder: root files at the top, one sub-folder per cluster. Created if missing. */
  dir: string;
  /** Cluster names (lowercase DNS labels); each gets an intermediate CA under the shared root. */
  clusters: string[];
  trustDomain: string;
  /** Algorithm of new root and intermediate keys; default ECDSA P-256 (an existing root keeps its own). */
  keyAlgorithm?: KeyAlgorithm;
  /** Clock for validity periods (tests); defaults to the current time. */
  now?: Date;
}

const YEAR_MS = 365 * 24 * 3600 * 1000;
const ROOT_LIFETIME_MS = 10 * YEAR_MS;
const INTERMEDIATE_LIFETIME_MS = 5 * YEAR_MS;
const BACKDATE_MS = 60_000;
const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Keys are EC P-256 with ECDSA-SHA256 signatures unless `keyAlgorithm` says RSA-2048: Node signs EC
 * keys many times faster (bench/citadel-signing.ts), and Istio's agent uses the same curve when
 * ECDSA is chosen. Written as unencrypted PKCS#8 PEM, mode 0600.
 */
function newKeyPair(opts: { keyAlgorithm?: KeyAlgorithm | undefined }): { privateKey: KeyObject; publicKeyDer: Buffer } {
  return generateKeyPair(opts.keyAlgorithm ?? DEFAULT_KEY_ALGORITHM);
}

function keyToPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** Writes via a temporary file and rename, so a reader never sees half a file. */
export async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, content, { mode });
  await rename(tmp, file);
}

/** A root CA certificate with its key, loaded or created. */
export interface Root {
  cert: X509Certificate;
  pem: string;
  privateKey: KeyObject;
  publicKeyDer: Buffer;
  subjectDer: Buffer;
}

/** Loads a root's certificate and key, checking they match. Throws CaMaterialError. */
export async function loadRoot(certFile: string, keyFile: string): Promise<Root> {
  const pem = await readFile(certFile, 'utf8');
  const [cert] = certificatesFromPem(pem);
  if (!cert) throw new CaMaterialError(`${certFile} holds no certificate`);
  const privateKey = createPrivateKey(await readFile(keyFile, 'utf8'));
  const publicKeyDer = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!publicKeyDer.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new CaMaterialError(`${keyFile} does not match ${certFile}`);
  }
  const facts = readCertificate(cert.raw);
  if (!facts.ok) throw new CaMaterialError(`${certFile}: ${facts.errors.join('; ')}`);
  return { cert, pem, privateKey, publicKeyDer, subjectDer: facts.value.subject };
}

/** Creates a self-signed root (10 years) and writes its key (0600) and certificate. */
export async function createRoot(
  files: { certFile: string; keyFile: string },
  opts: { trustDomain: string; keyAlgorithm?: KeyAlgorithm | undefined; commonName?: string },
  now: Date,
): Promise<Root> {
  const { privateKey, publicKeyDer } = newKeyPair(opts);
  const subjectDer = encodeName({ organization: opts.trustDomain, commonName: opts.commonName ?? 'meshfed root CA' });
  const der = buildCertificate({
    subject: subjectDer,
    issuer: subjectDer,
    subjectPublicKey: publicKeyDer,
    issuerPublicKey: publicKeyDer,
    signingKey: privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + ROOT_LIFETIME_MS),
    ca: true,
  });
  const pem = derToPem(der, 'CERTIFICATE');
  await writeAtomic(files.keyFile, keyToPem(privateKey), 0o600);
  await writeAtomic(files.certFile, pem, 0o644);
  return { cert: new X509Certificate(der), pem, privateKey, publicKeyDer, subjectDer };
}

async function loadOrCreateRoot(opts: InitCaOptions, now: Date): Promise<Root> {
  const certFile = path.join(opts.dir, ROOT_FILES.cert);
  const keyFile = path.join(opts.dir, ROOT_FILES.key);
  if (await exists(certFile)) return loadRoot(certFile, keyFile);
  return createRoot({ certFile, keyFile }, opts, now);
}

/** A new intermediate CA for `cluster` under `root` (5 years, pathlen 0, never past the root): key and certificate PEM. */
export function issueIntermediate(
  root: Root,
  cluster: string,
  opts: { trustDomain: string; keyAlgorithm?: KeyAlgorithm | undefined },
  now: Date,
): { keyPem: string; certPem: string } {
  const { privateKey, publicKeyDer } = newKeyPair(opts);
  const rootNotAfter = new Date(root.cert.validTo).getTime();
  const der = buildCertificate({
    subject: encodeName({ organization: opts.trustDomain, commonName: `meshfed intermediate CA ${cluster}` }),
    issuer: root.subjectDer,
    subjectPublicKey: publicKeyDer,
    issuerPublicKey: root.publicKeyDer,
    signingKey: root.privateKey,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(Math.min(now.getTime() + INTERMEDIATE_LIFETIME_MS, rootNotAfter)),
    ca: true,
    pathLength: 0,
  });
  return { keyPem: keyToPem(privateKey), certPem: derToPem(der, 'CERTIFICATE') };
}

async function createIntermediate(opts: InitCaOptions, root: Root, cluster: string, now: Date): Promise<void> {
  const target = path.join(opts.dir, cluster);
  const staging = path.join(opts.dir, `.${cluster}.tmp-${randomBytes(4).toString('hex')}`);
  const { keyPem, certPem } = issueIntermediate(root, cluster, opts, now);
  try {
    await mkdir(staging, { recursive: true });
    await writeFile(path.join(staging, CA_FILES.key), keyPem, { mode: 0o600 });
    await writeFile(path.join(staging, CA_FILES.cert), certPem);
    // Istio's plug-in convention: cert-chain.pem is the intermediate followed by the root.
    await writeFile(path.join(staging, CA_FILES.chain), certPem + root.pem);
    await writeFile(path.join(staging, CA_FILES.root), root.pem);
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Creates (or completes) a CA folder: one shared root (10 years) and, per cluster, an
 * intermediate CA (5 years, pathlen 0) in Istio's plug-in file layout. Idempotent: an existing
 * root is reused and existing clusters are kept after checking they chain to that root.
 * Throws CaMaterialError on inconsistent existing files or an invalid cluster name.
 */
export async function initCa(opts: InitCaOptions): Promise<void> {
  for (const cluster of opts.clusters) {
    if (!CLUSTER_NAME.test(cluster)) throw new CaMaterialError(`invalid cluster name "${cluster}" (lowercase DNS label)`);
  }
  const now = opts.now ?? new Date();
  await mkdir(opts.dir, { recursive: true });
  const root = await loadOrCreateRoot(opts, now);
  for (const cluster of new Set(opts.clusters)) {
    const clusterDir = path.join(opts.dir, cluster);
    if (await exists(path.join(clusterDir, CA_FILES.cert))) {
      const existing = await loadCa(clusterDir);
      // During a root rotation a cluster's bundle holds old+new, and its intermediate may already
      // be under the new root: the bundle must hold the mesh's root.
      if (!existing.roots.some((r) => r.raw.equals(root.cert.raw))) {
        throw new CaMaterialError(`${clusterDir} belongs to a different root than ${path.join(opts.dir, ROOT_FILES.cert)}`);
      }
      continue;
    }
    await createIntermediate(opts, root, cluster, now);
  }
}
