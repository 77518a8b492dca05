/**
 * Resolves a host written in a resource to a fully qualified name, relative to the resource's
 * namespace (Istio's rule for Kubernetes services):
 * - `reviews`            → `reviews.<ns>.svc.<suffix>`
 * - `reviews.other`      → `reviews.other.svc.<suffix>`
 * - `reviews.other.svc`  → `reviews.other.svc.<suffix>`
 * - anything else with dots is already fully qualified and kept.
 */
export function resolveHost(host: string, namespace: string, domainSuffix = 'cluster.local'): string {
  const parts = host.split('.');
  if (parts.length === 1) return `${host}.${namespace}.svc.${domainSuffix}`;
  if (parts.length === 2) return `${host}.svc.${domainSuffix}`;
  if (parts.length === 3 && parts[2] === 'svc') return `${host}.${domainSuffix}`;
  return host;
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
