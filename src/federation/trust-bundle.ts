/**
 * Comparing trust bundles. A bundle is one or more PEM certificates; two bundles hold the same
 * roots when they contain the same set of certificates, whatever the whitespace, line endings or
 * order of the PEM text.
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
