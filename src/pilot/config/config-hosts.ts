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
