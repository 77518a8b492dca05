import type { DestinationRuleConfig, SidecarConfig, VirtualServiceConfig } from '../config/config-types.ts';
import { egressHostMatches, type ScopedProxy, sidecarFor } from './sidecar-scope.ts';
import type { EndpointModel, ServiceModel, Snapshot } from './snapshot.ts';
import { viewFor } from './snapshot-view.ts';

/**
 * What one proxy sees of a snapshot: its namespace's `exportTo` view (snapshot-view.ts), narrowed
 * to what the Sidecar that applies to it imports (sidecar-scope.ts). Without a Sidecar it is the
 * namespace view itself. Pure; memoized per immutable snapshot, Sidecar and proxy namespace.
 */
export function scopedViewFor(snap: Snapshot, proxy: ScopedProxy): Snapshot {
  const base = viewFor(snap, proxy.namespace);
  const sidecar = sidecarFor(snap, proxy);
  if (!sidecar) return base;
  let byScope = scopedViews.get(snap);
  if (!byScope) {
    byScope = new Map();
    scopedViews.set(snap, byScope);
  }
  const key = `${sidecar.metadata.namespace}/${sidecar.metadata.name} ${proxy.namespace}`;
  let view = byScope.get(key);
  if (!view) {
    view = buildScopedView(base, sidecar, proxy.namespace);
    byScope.set(key, view);
  }
  return view;
}

const scopedViews = new WeakMap<Snapshot, Map<string, Snapshot>>();

/** `all`: every port of the service; otherwise the port numbers imported. */
type PortScope = 'all' | Set<number>;

function widen(visible: Map<string, PortScope>, hostname: string, port: number | undefined): void {
  const held = visible.get(hostname);
  if (held === 'all') return;
  if (port === undefined) {
    visible.set(hostname, 'all');
    return;
  }
  if (held) held.add(port);
  else visible.set(hostname, new Set([port]));
}

/**
 * Istio's SidecarScope over one namespace view: a service is imported when an egress host entry
 * matches it (on that listener's port only, when the listener names one); the destinations
 * (routes and mirrors) of an imported VirtualService are imported with it, so its routes keep
 * their clusters. DestinationRules and VirtualServices of hosts no longer visible go too.
 */
function buildScopedView(snap: Snapshot, sidecar: SidecarConfig, proxyNamespace: string): Snapshot {
  const suffix = snap.domainSuffix;
  const visible = new Map<string, PortScope>();
  for (const listener of sidecar.spec.egress) {
    for (const service of snap.services.values()) {
      if (listener.port !== undefined && !service.ports.some((p) => p.port === listener.port)) continue;
      if (listener.hosts.some((h) => egressHostMatches(h, proxyNamespace, service.hostname, service.namespace, suffix))) {
        widen(visible, service.hostname, listener.port);
      }
    }
    for (const [host, vs] of snap.virtualServices) {
      if (!listener.hosts.some((h) => egressHostMatches(h, proxyNamespace, host, vs.metadata.namespace, suffix))) continue;
      for (const http of vs.spec.http) {
        for (const d of [...http.route.map((r) => r.destination), ...http.mirrors.map((m) => m.destination)]) {
          if (snap.services.has(d.host)) widen(visible, d.host, undefined);
        }
      }
      for (const l4 of [...vs.spec.tcp, ...vs.spec.tls]) {
        for (const { destination: d } of l4.route) if (snap.services.has(d.host)) widen(visible, d.host, undefined);
      }
    }
  }
  const services = new Map<string, ServiceModel>();
  for (const [h, s] of snap.services) {
    const scope = visible.get(h);
    if (scope === undefined) continue;
    services.set(h, scope === 'all' ? s : Object.freeze({ ...s, ports: Object.freeze(s.ports.filter((p) => scope.has(p.port))) }));
  }
  const endpoints = new Map<string, readonly EndpointModel[]>();
  for (const [h, list] of snap.endpoints) if (services.has(h)) endpoints.set(h, list);
  const virtualServices = new Map<string, VirtualServiceConfig>();
  for (const [h, vs] of snap.virtualServices) if (services.has(h)) virtualServices.set(h, vs);
  const destinationRules = new Map<string, DestinationRuleConfig>();
  for (const [h, dr] of snap.destinationRules) if (services.has(h)) destinationRules.set(h, dr);
  return Object.freeze({
    ...snap,
    services,
    endpoints,
    virtualServices,
    destinationRules,
    ...(sidecar.spec.outboundTrafficPolicy !== undefined ? { outboundTrafficPolicy: sidecar.spec.outboundTrafficPolicy } : {}),
  });
}
