/**
 * Comparing trust bundles. A bundle is a set of one or more PEM root certificates; two bundles are
 * compared as sets of certificates, whatever the whitespace, line endings or order of the PEM text.
 *
 * During a root rotation (Istio's plug-in CA guide) a cluster publishes old+new roots while its
 * peers still hold only the old one, or already only the new one; a peer is therefore trusted when
 * its bundle shares at least one root with the local bundle, not only when both are equal.
 */

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** The base64 bodies of every certificate in `pem`, whitespace removed. */
export function certificateBodies(pem: string): string[] {
  return [...pem.matchAll(CERT_BLOCK)].map((m) => (m[1] ?? '').replace(/\s+/g, ''));
}

/** True when both bundles hold at least one certificate and the same set of them. */
export function sameRoots(a: string, b: string): boolean {
  const left = new Set(certificateBodies(a));
  const right = new Set(certificateBodies(b));
  if (left.size === 0 || left.size !== right.size) return false;
  for (const body of left) if (!right.has(body)) return false;
  return true;
}

/** How many roots the two bundles share (0 when either holds none). */
export function sharedRootCount(a: string, b: string): number {
  const left = new Set(certificateBodies(a));
  let shared = 0;
  for (const body of new Set(certificateBodies(b))) if (left.has(body)) shared++;
  return shared;
}

/** The federation's verdict on a peer's published bundle: trusted, or refused with its reason. */
export type PeerTrust = { trusted: true; sharedRoots: number } | { trusted: false; reason: string };

/**
 * Whether a peer whose published bundle is `published` (undefined: nothing published) is trusted
 * by a cluster holding `local`: it must publish at least one certificate and share at least one
 * root with `local`. Pure; the reason names the peer and what is wrong.
 */
export function peerTrust(peer: string, published: string | undefined, local: string): PeerTrust {
  if (published === undefined) return { trusted: false, reason: `cluster ${peer} has published no root certificate` };
  const count = new Set(certificateBodies(published)).size;
  if (count === 0) return { trusted: false, reason: `cluster ${peer} published a trust bundle without a certificate` };
  const shared = sharedRootCount(local, published);
  if (shared === 0) {
    const roots = count === 1 ? 'root certificate' : `${count} root certificates`;
    return { trusted: false, reason: `trust bundle of cluster ${peer} (${roots}) shares no root with the local bundle` };
  }
  return { trusted: true, sharedRoots: shared };
}
