import type { ProxyNode } from '../../xds/node.ts';
import type { Cluster, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import type { TrafficPolicy } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { workloadKey } from '../model/snapshot.ts';
import { sidecarScopeKey } from '../model/sidecar-scope.ts';
import { scopedViewFor } from '../model/sidecar-scope-view.ts';
import { generateClusters, sidecarCaptureClusters, sidecarDnsClusters, sidecarInboundClusters, sidecarOutboundClusters } from './generator-clusters.ts';
import { generateEndpoints } from './generator-endpoints.ts';
import { generateListeners } from './generator-listeners.ts';
import { generateRoutes } from './generator-routes.ts';

/**
 * Every resource of `typeUrl` for `proxy`, over one snapshot. Pure; the ADS server filters by the
 * names a stream subscribed to. Each resource's `@type` equals `typeUrl`. Generators see the view
 * of the proxy's namespace (`exportTo`, snapshot-view.ts), narrowed by the Sidecar that applies
 * to the proxy (sidecar-scope-view.ts); it is the snapshot itself when no resource restricts its
 * `exportTo` and no Sidecar applies.
 */
export function generate(proxy: ProxyNode, typeUrl: XdsTypeUrl, base: Snapshot): XdsResource[] {
  const snap = scopedViewFor(base, proxy);
  switch (typeUrl) {
    case TYPE_URL.cluster:
      if (proxy.type === 'sidecar') {
        return [...sharedOutboundClusters(snap), ...asResources([...sidecarDnsClusters(proxy, snap), ...sidecarInboundClusters(proxy, snap), ...sidecarCaptureClusters(proxy)])];
      }
      return generateClusters(proxy, snap);
    case TYPE_URL.endpoint:
      return generateEndpoints(proxy, snap);
    case TYPE_URL.listener:
      return generateListeners(proxy, snap);
    case TYPE_URL.route:
      return generateRoutes(proxy, snap);
    default:
      // Unknown type URLs (a caller passing an unvalidated string) have no resources.
      return [];
  }
}

/**
 * Sidecars' outbound clusters, generated once per snapshot and shared (the same objects) by every
 * sidecar's CDS, so the push server encodes each once. A memo of a pure function of the immutable
 * snapshot; it goes with the snapshot.
 */
const outboundBySnapshot = new WeakMap<Snapshot, readonly XdsResource[]>();

function sharedOutboundClusters(snap: Snapshot): readonly XdsResource[] {
  let out = outboundBySnapshot.get(snap);
  if (!out) {
    out = Object.freeze(asResources(sidecarOutboundClusters(snap)));
    outboundBySnapshot.set(snap, out);
  }
  return out;
}

function asResources(bodies: readonly Cluster[]): XdsResource[] {
  return bodies.map((resource) => ({ name: resource.name, resource }));
}

/**
 * The generation key of a proxy for one type: two proxies with the same key get the same output
 * from `generate` over the same snapshot, so the push server generates and encodes it once per
 * snapshot for all of them. It names exactly the proxy fields each generator reads:
 * - CDS: the type and namespace (`exportTo`); a sidecar's own workload (its `inbound|<port>||`
 *   clusters; its key holds the namespace);
 * - EDS: the type and namespace (every proxy of a type and namespace shares one result); for any
 *   proxy type, when some DestinationRule of the snapshot sets `localityLbSetting`, also its cluster and
 *   labels (priorities and weights follow the proxy's locality and failoverPriority labels), so
 *   replicas of one workload share it; without a snapshot the key assumes one does;
 * - LDS: the type and namespace; a sidecar's own workload, ip and capture mode (INTERCEPTION_MODE
 *   REDIRECT: listeners on 0.0.0.0 with use_original_dst), its labels when some AuthorizationPolicy
 *   has a selector (or without a snapshot), a gateway's ip;
 * - RDS: the type; the proxy's namespace (short host names, sourceNamespace, `exportTo`); when some
 *   VirtualService of the snapshot matches on sourceLabels, also its labels, so replicas of one
 *   workload share it (without a snapshot the key assumes one does);
 * Every key of a sidecar or proxyless proxy also names the Sidecar that applies to it
 * (`sidecarScopeKey`: nothing when none does); without a snapshot, its labels stand for it.
 * A generator that starts reading another proxy field must add it here
 * (test/pilot/generation-key.test.ts checks equal keys give equal output).
 */
function labelsKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Memo per immutable snapshot: does any DestinationRule (any policy level) set localityLbSetting? */
const localityBySnapshot = new WeakMap<Snapshot, boolean>();

function usesLocalityLb(snap: Snapshot): boolean {
  let v = localityBySnapshot.get(snap);
  if (v === undefined) {
    const inPolicy = (tp: TrafficPolicy | undefined): boolean =>
      tp !== undefined && (tp.loadBalancer?.localityLbSetting !== undefined || tp.portLevelSettings.some((p) => p.loadBalancer?.localityLbSetting !== undefined));
    v = [...snap.destinationRules.values()].some((dr) => inPolicy(dr.spec.trafficPolicy) || dr.spec.subsets.some((s) => inPolicy(s.trafficPolicy)));
    localityBySnapshot.set(snap, v);
  }
  return v;
}

/** Memo per immutable snapshot: does any VirtualService match on sourceLabels? */
const sourceLabelsBySnapshot = new WeakMap<Snapshot, boolean>();

function usesSourceLabels(snap: Snapshot): boolean {
  let v = sourceLabelsBySnapshot.get(snap);
  if (v === undefined) {
    v = snap.allVirtualServices.some((vs) => vs.spec.http.some((h) => h.match.some((m) => m.sourceLabels !== undefined)));
    sourceLabelsBySnapshot.set(snap, v);
  }
  return v;
}

export function generationKey(proxy: ProxyNode, typeUrl: XdsTypeUrl, snap?: Snapshot): string {
  const key = baseGenerationKey(proxy, typeUrl, snap);
  if (proxy.type === 'router') return key;
  return key + (snap !== undefined ? sidecarScopeKey(snap, proxy) : ` sidecar-scope-labels=${labelsKey(proxy.labels)}`);
}

function baseGenerationKey(proxy: ProxyNode, typeUrl: XdsTypeUrl, snap?: Snapshot): string {
  const own = workloadKey(proxy.cluster, proxy.namespace, proxy.workload);
  // Capture proxies get PassthroughCluster / BlackHoleCluster and the allow_any virtual host.
  const capture = proxy.interceptionMode === 'REDIRECT' ? ' capture' : '';
  switch (typeUrl) {
    case TYPE_URL.cluster:
      return proxy.type === 'sidecar' ? `sidecar ${own}${capture}` : `${proxy.type} ${proxy.namespace}`;
    case TYPE_URL.endpoint:
      return snap === undefined || usesLocalityLb(snap)
        ? `${proxy.type} ${proxy.namespace} ${proxy.cluster} ${labelsKey(proxy.labels)}`
        : `${proxy.type} ${proxy.namespace}`;
    case TYPE_URL.listener:
      // AuthorizationPolicy and RequestAuthentication selectors pick workloads by label (without a snapshot, assume one does).
      return proxy.type === 'sidecar'
        ? `sidecar ${own} ${proxy.ip}${proxy.interceptionMode === 'REDIRECT' ? ' capture' : ''}${snap === undefined || snap.authorizationPolicies.some((p) => p.spec.selector) || snap.requestAuthentications.some((p) => p.spec.selector) ? ` authz-labels=${labelsKey(proxy.labels)}` : ''}`
        : proxy.type === 'router'
          ? `router ${proxy.namespace} ${proxy.ip}`
          : `${proxy.type} ${proxy.namespace}`;
    case TYPE_URL.route:
      // VirtualService match blocks select proxies by sourceNamespace and sourceLabels; labels
      // only matter when some match block names them (without a snapshot, assume one does).
      return proxy.type === 'router' || (snap !== undefined && !usesSourceLabels(snap))
        ? `${proxy.type} ${proxy.namespace}${capture}`
        : `${proxy.type} ${proxy.namespace} ${labelsKey(proxy.labels)}${capture}`;
    default:
      return proxy.type;
  }
}
