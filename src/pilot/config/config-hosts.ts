import { isIP } from 'node:net';

/**
 * Resolves a host written in a resource to a fully qualified name, relative to the resource's
 * namespace, as Istio does (ResolveShortnameToFQDN):
 * - a short name (no dot): `reviews` → `reviews.<ns>.svc.<suffix>`;
 * - any name with a dot is taken as fully qualified and kept: `reviews.prod`, `httpbin.org` and
 *   `reviews.prod.svc` stay as written (Istio does not expand them either);
 * - `*` and IP addresses stay as written.
 */
export function resolveHost(host: string, namespace: string, domainSuffix = 'cluster.local'): string {
  if (host === '' || host === '*' || host.includes('.') || isIP(host) !== 0) return host;
  return `${host}.${namespace}.svc.${domainSuffix}`;
}

/**
 * A validated `exportTo` list → its normalized form (config-types.ts `ExportTo`): absent → `['*']`,
 * `.` → `namespace`, `~` dropped, `*` absorbs every name; sorted without duplicates.
 */
export function toExportTo(raw: readonly string[] | undefined, namespace: string): readonly string[] {
  if (raw === undefined || raw.includes('*')) return ['*'];
  return [...new Set(raw.filter((v) => v !== '~').map((v) => (v === '.' ? namespace : v)))].sort();
}

/** Whether a resource with this (normalized) `exportTo` is visible to proxies of `namespace`. */
export function isExportedTo(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes('*') || exportTo.includes(namespace);
}
