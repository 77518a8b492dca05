/**
 * Root rotation of a plug-in CA folder (initCa's layout), in the three phases of Istio's plug-in CA
 * guide. Each phase only edits files; the components that read them (control planes, sidecars,
 * gateways, federation) reload them live, and `meshfed ca rotate` waits for them in between.
 *
 * 1. `distributeRoots`: creates the new root (`next-root-cert.pem`, `next-root-key.pem`) unless it
 *    exists, and writes every cluster's trust bundle (`<cluster>/root-cert.pem`) as its current
 *    roots plus the new one.
 * 2. `reissueIntermediates`: gives every cluster whose intermediate is not yet under the new root
 *    a new intermediate signed by it (`ca-cert.pem`, `ca-key.pem`, `cert-chain.pem`); bundles keep
 *    both roots, so certificates from the old and the new intermediate verify everywhere.
 * 3. `dropOldRoot`: once every intermediate is under the new root, makes it the mesh root
 *    (`root-cert.pem`, `root-key.pem`; the old certificate is kept as `previous-root-cert.pem`, its
 *    key deleted) and writes every bundle as the new root alone.
 *
 * Every phase is idempotent and resumable: it checks what is already done and does the rest, so it
 * can be run again after a crash. At every step each cluster's bundle holds the root in
 * `root-cert.pem`, which is what initCa (and so `meshfed up`) checks. Failures throw
 * CaRotationError (a phase run out of order) or CaMaterialError (unreadable files).
 */
import type { X509Certificate } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { CA_FILES, certificatesFromPem, certificateToPem, loadCa, ROOT_FILES } from './ca-files.ts';
import { createRoot, exists, issueIntermediate, loadRoot, type Root, writeAtomic } from './ca-init.ts';
import { CaRotationError } from './errors.ts';
import type { KeyAlgorithm } from './key-algorithm.ts';

/** Files of a rotation in progress, at the top of the CA folder. */
export const ROTATION_FILES = {
  nextCert: 'next-root-cert.pem',
  nextKey: 'next-root-key.pem',
  previousCert: 'previous-root-cert.pem',
} as const;

/** The three phases, in order. */
export const ROTATION_PHASES = ['distribute', 'reissue', 'drop'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** Options of every phase. */
export interface CaRotationOptions {
  /** The CA folder (initCa's `dir`). */
  dir: string;
  clusters: readonly string[];
  trustDomain: string;
  /** Algorithm of the new root and intermediate keys (default ECDSA P-256). */
  keyAlgorithm?: KeyAlgorithm;
  now?: Date;
}

/** What a phase did (one line per change, "… already …" for what was done before) and the roots involved. */
export interface PhaseReport {
  phase: RotationPhase;
  lines: string[];
  /** SHA-256 fingerprint of the root being retired (undefined once it is gone). */
  oldRoot: string | undefined;
  newRoot: string;
  /** The fingerprints every cluster's bundle holds after this phase. */
  bundle: string[];
}

const clusterFile = (o: CaRotationOptions, cluster: string, name: string): string => path.join(o.dir, cluster, name);

async function readBundle(o: CaRotationOptions, cluster: string): Promise<X509Certificate[]> {
  return certificatesFromPem(await readFile(clusterFile(o, cluster, CA_FILES.root), 'utf8'));
}

async function activeRoot(o: CaRotationOptions): Promise<Root> {
  return loadRoot(path.join(o.dir, ROOT_FILES.cert), path.join(o.dir, ROOT_FILES.key));
}

async function nextRoot(o: CaRotationOptions): Promise<Root | undefined> {
  const certFile = path.join(o.dir, ROTATION_FILES.nextCert);
  if (!(await exists(certFile))) return undefined;
  return loadRoot(certFile, path.join(o.dir, ROTATION_FILES.nextKey));
}

const pemOf = (certs: readonly X509Certificate[]): string => certs.map(certificateToPem).join('');

/** Writes a cluster's bundle when its set of roots differs from `want`; returns whether it wrote. */
async function writeBundle(o: CaRotationOptions, cluster: string, want: readonly X509Certificate[]): Promise<boolean> {
  const have = await readBundle(o, cluster);
  const same = have.length === want.length && want.every((w) => have.some((h) => h.raw.equals(w.raw)));
  if (same) return false;
  await writeAtomic(clusterFile(o, cluster, CA_FILES.root), pemOf(want), 0o644);
  return true;
}

/** Phase 1: the new root exists and every cluster's bundle holds it beside its current roots. */
export async function distributeRoots(o: CaRotationOptions): Promise<PhaseReport> {
  const lines: string[] = [];
  const old = await activeRoot(o);
  let next = await nextRoot(o);
  if (next) lines.push(`new root ${next.cert.fingerprint256} already created`);
  else {
    next = await createRoot(
      { certFile: path.join(o.dir, ROTATION_FILES.nextCert), keyFile: path.join(o.dir, ROTATION_FILES.nextKey) },
      { trustDomain: o.trustDomain, keyAlgorithm: o.keyAlgorithm, commonName: `meshfed root CA ${(o.now ?? new Date()).toISOString()}` },
      o.now ?? new Date(),
    );
    lines.push(`created new root ${next.cert.fingerprint256} in ${path.join(o.dir, ROTATION_FILES.nextCert)}`);
  }
  for (const cluster of o.clusters) {
    const have = await readBundle(o, cluster);
    const want = have.some((c) => c.raw.equals(next.cert.raw)) ? have : [...have, next.cert];
    const wrote = await writeBundle(o, cluster, want);
    lines.push(wrote ? `${cluster}: trust bundle now holds ${want.length} roots` : `${cluster}: trust bundle already holds the new root`);
  }
  return { phase: 'distribute', lines, oldRoot: old.cert.fingerprint256, newRoot: next.cert.fingerprint256, bundle: [old.cert.fingerprint256, next.cert.fingerprint256] };
}

/** Phase 2: every cluster's intermediate is signed by the new root; bundles must already hold it. */
export async function reissueIntermediates(o: CaRotationOptions): Promise<PhaseReport> {
  const lines: string[] = [];
  const old = await activeRoot(o);
  const next = await nextRoot(o);
  if (!next) throw new CaRotationError(`no rotation in progress (${ROTATION_FILES.nextCert} is missing): run the distribute phase first`);
  for (const cluster of o.clusters) {
    const bundle = await readBundle(o, cluster);
    if (!bundle.some((c) => c.raw.equals(next.cert.raw))) {
      throw new CaRotationError(`${cluster}: its trust bundle lacks the new root: run the distribute phase first`);
    }
    const ca = await loadCa(path.join(o.dir, cluster));
    if (ca.root.raw.equals(next.cert.raw)) {
      lines.push(`${cluster}: intermediate already under the new root`);
      continue;
    }
    const { keyPem, certPem } = issueIntermediate(next, cluster, o, o.now ?? new Date());
    // Key, then chain, then certificate: a reader that sees a mix fails loadCa's checks and keeps
    // the material it had until the last write lands.
    await writeAtomic(clusterFile(o, cluster, CA_FILES.key), keyPem, 0o600);
    await writeAtomic(clusterFile(o, cluster, CA_FILES.chain), certPem + next.pem, 0o644);
    await writeAtomic(clusterFile(o, cluster, CA_FILES.cert), certPem, 0o644);
    lines.push(`${cluster}: new intermediate under the new root`);
  }
  return { phase: 'reissue', lines, oldRoot: old.cert.fingerprint256, newRoot: next.cert.fingerprint256, bundle: [old.cert.fingerprint256, next.cert.fingerprint256] };
}

/** Phase 3: the new root becomes the mesh root and the only root of every bundle. */
export async function dropOldRoot(o: CaRotationOptions): Promise<PhaseReport> {
  const lines: string[] = [];
  const next = await nextRoot(o);
  const target = next ?? (await activeRoot(o));
  for (const cluster of o.clusters) {
    const ca = await loadCa(path.join(o.dir, cluster));
    if (!ca.root.raw.equals(target.cert.raw)) {
      throw new CaRotationError(`${cluster}: its intermediate is not under the new root yet: run the reissue phase first`);
    }
  }
  let oldRoot: string | undefined;
  if (next) {
    const old = await activeRoot(o);
    oldRoot = old.cert.fingerprint256;
    // Promote first: every bundle holds both roots, so each still holds the mesh root meanwhile.
    await writeAtomic(path.join(o.dir, ROTATION_FILES.previousCert), old.pem, 0o644);
    await writeAtomic(path.join(o.dir, ROOT_FILES.key), await readFile(path.join(o.dir, ROTATION_FILES.nextKey), 'utf8'), 0o600);
    await writeAtomic(path.join(o.dir, ROOT_FILES.cert), next.pem, 0o644);
    await rm(path.join(o.dir, ROTATION_FILES.nextKey), { force: true });
    await rm(path.join(o.dir, ROTATION_FILES.nextCert), { force: true });
    lines.push(`new root ${next.cert.fingerprint256} is now the mesh root; old root ${oldRoot} kept as ${ROTATION_FILES.previousCert}, its key deleted`);
  } else {
    lines.push(`new root ${target.cert.fingerprint256} already the mesh root`);
  }
  for (const cluster of o.clusters) {
    const wrote = await writeBundle(o, cluster, [target.cert]);
    lines.push(wrote ? `${cluster}: trust bundle now holds the new root only` : `${cluster}: trust bundle already holds the new root only`);
  }
  return { phase: 'drop', lines, oldRoot, newRoot: target.cert.fingerprint256, bundle: [target.cert.fingerprint256] };
}

/** Runs one phase by name. */
export function runRotationPhase(phase: RotationPhase, o: CaRotationOptions): Promise<PhaseReport> {
  return phase === 'distribute' ? distributeRoots(o) : phase === 'reissue' ? reissueIntermediates(o) : dropOldRoot(o);
}
