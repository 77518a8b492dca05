import { isExportedTo } from '../config/config-hosts.ts';
import type { DestinationRuleConfig, VirtualServiceConfig } from '../config/config-types.ts';
import type { EndpointModel, ServiceModel, Snapshot } from './snapshot.ts';

/**
 * What the proxies of one namespace see of a snapshot, by Istio's `exportTo`: the services
 * (ServiceEntries) exported to it with their endpoints, for each host the first VirtualService (by
 * namespace/name) exported to it, and the DestinationRule Istio would pick among those exported to
 * it (its own namespace's, else the service's namespace's, else the first by namespace/name). When nothing in the snapshot restricts
 * its `exportTo` and no host has DestinationRules in two namespaces, the view is the snapshot itself, so every namespace shares one set of generated
 * resources. Pure; memoized per immutable snapshot and namespace (the memo goes with the snapshot).
 */
export function viewFor(snap: Snapshot, namespace: string): Snapshot {
  if (!restricted(snap)) return snap;
  let byNamespace = views.get(snap);
  if (!byNamespace) {
    byNamespace = new Map();
    views.set(snap, byNamespace);
  }
  let view = byNamespace.get(namespace);
  if (!view) {
    view = buildView(snap, namespace);
    byNamespace.set(namespace, view);
  }
  return view;
}

const views = new WeakMap<Snapshot, Map<string, Snapshot>>();
const restrictedBySnapshot = new WeakMap<Snapshot, boolean>();

function everywhere(exportTo: readonly string[] | undefined): boolean {
  return exportTo === undefined || exportTo.includes('*');
}

function restricted(snap: Snapshot): boolean {
  let r = restrictedBySnapshot.get(snap);
  if (r === undefined) {
    r =
      [...snap.services.values()].some((s) => !everywhere(s.exportTo)) ||
      snap.allVirtualServices.some((v) => !everywhere(v.spec.exportTo)) ||
      snap.allDestinationRules.some((d) => !everywhere(d.spec.exportTo)) ||
      destinationRulesInSeveralNamespaces(snap);
    restrictedBySnapshot.set(snap, r);
  }
  return r;
}

/** Some host has DestinationRules in more than one namespace: which one applies depends on the proxy's. */
function destinationRulesInSeveralNamespaces(snap: Snapshot): boolean {
  const namespaceOf = new Map<string, string>();
  for (const dr of snap.allDestinationRules) {
    const ns = namespaceOf.get(dr.spec.host);
    if (ns !== undefined && ns !== dr.metadata.namespace) return true;
    namespaceOf.set(dr.spec.host, dr.metadata.namespace);
  }
  return false;
}

function buildView(snap: Snapshot, namespace: string): Snapshot {
  const services = new Map<string, ServiceModel>();
  const endpoints = new Map<string, readonly EndpointModel[]>();
  for (const [h, s] of snap.services) if (s.exportTo === undefined || isExportedTo(s.exportTo, namespace)) services.set(h, s);
  // Endpoints of hidden ServiceEntries go too; endpoints without a service (none today) stay.
  for (const [h, list] of snap.endpoints) if (services.has(h) || !snap.services.has(h)) endpoints.set(h, list);
  const virtualServices = new Map<string, VirtualServiceConfig>();
  for (const vs of snap.allVirtualServices) {
    if (!isExportedTo(vs.spec.exportTo, namespace)) continue;
    for (const h of vs.spec.hosts) if (!virtualServices.has(h)) virtualServices.set(h, vs);
  }
  // Istio's DestinationRule lookup: the proxy's own namespace first, then the service's, then any
  // other namespace exporting one to the proxy; within a namespace, the first by name.
  const destinationRules = new Map<string, DestinationRuleConfig>();
  const rank = (dr: DestinationRuleConfig): number =>
    dr.metadata.namespace === namespace ? 0 : dr.metadata.namespace === snap.services.get(dr.spec.host)?.namespace ? 1 : 2;
  for (const dr of snap.allDestinationRules) {
    if (!isExportedTo(dr.spec.exportTo, namespace)) continue;
    const held = destinationRules.get(dr.spec.host);
    if (!held || rank(dr) < rank(held)) destinationRules.set(dr.spec.host, dr);
  }
  const sorted = <V>(m: Map<string, V>): ReadonlyMap<string, V> => new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return Object.freeze({
    ...snap,
    services,
    endpoints,
    virtualServices: sorted(virtualServices),
    destinationRules: sorted(destinationRules),
  });
}
