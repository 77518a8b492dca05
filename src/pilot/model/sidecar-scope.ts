import type { SidecarConfig, SidecarEgressHost } from '../config/config-types.ts';
import type { Snapshot } from './snapshot.ts';
import { matchesLabels } from './snapshot-queries.ts';


/** The proxy fields a Sidecar's selection reads. */
export interface ScopedProxy {
  readonly type: 'sidecar' | 'router' | 'proxyless';
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The Sidecar that applies to a proxy, as Istio picks it: in the proxy's namespace the first (by
 * name) whose workloadSelector matches its labels, else the first without a selector there, else
 * the first without a selector in the root namespace (meshConfig `rootNamespace`, default
 * `istio-system`); none for gateways (routers). Istio breaks
 * ties by creation time, then name; file configuration has no creation time, so name decides.
 * `snap.sidecars` is sorted by namespace/name, which gives that order. Pure.
 */
export function sidecarFor(snap: Snapshot, proxy: ScopedProxy): SidecarConfig | undefined {
  if (proxy.type === 'router' || snap.sidecars.length === 0) return undefined;
  let namespaceDefault: SidecarConfig | undefined;
  let rootDefault: SidecarConfig | undefined;
  for (const sc of snap.sidecars) {
    const ns = sc.metadata.namespace;
    const selector = sc.spec.workloadSelector;
    if (ns === proxy.namespace) {
      if (selector) {
        if (matchesLabels(selector.labels, proxy.labels)) return sc;
      } else namespaceDefault ??= sc;
    } else if (ns === snap.mesh.rootNamespace && !selector) rootDefault ??= sc;
  }
  return namespaceDefault ?? rootDefault;
}

/**
 * Part of a generation key naming the Sidecar scope of a proxy: empty when no Sidecar applies
 * (keys stay what they were), else the Sidecar's namespace/name. The rest of every key already
 * names the proxy's namespace, which `.` and short names of a root-namespace default depend on.
 */
export function sidecarScopeKey(snap: Snapshot, proxy: ScopedProxy): string {
  const sc = sidecarFor(snap, proxy);
  return sc ? ` sidecar-scope=${sc.metadata.namespace}/${sc.metadata.name}` : '';
}

/**
 * Whether an egress host entry imports a host of `hostNamespace` (a service's namespace, or a
 * VirtualService's), for a proxy of `proxyNamespace`. `*` matches every host; `*.example.com`
 * every host below example.com; a short name `reviews` the host `reviews.<ns>.svc.<suffix>`; any
 * other name only itself.
 */
export function egressHostMatches(
  entry: SidecarEgressHost,
  proxyNamespace: string,
  hostname: string,
  hostNamespace: string,
  domainSuffix: string,
): boolean {
  const ns = entry.namespace === '.' ? proxyNamespace : entry.namespace;
  if (ns === '~' || (ns !== '*' && ns !== hostNamespace)) return false;
  const dns = entry.dnsName;
  if (dns === '*') return true;
  if (dns.startsWith('*.')) return hostname.endsWith(dns.slice(1));
  if (!dns.includes('.')) return hostname === `${dns}.${hostNamespace}.svc.${domainSuffix}`;
  return hostname === dns;
}
