import { PORTS } from '../../common/ports.ts';
import { ENDPOINT_META, endpointSniFor } from '../../xds/naming.ts';
import { workloadMtlsMode } from '../model/peer-authentication.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { EndpointModel, Snapshot } from '../model/snapshot.ts';
import { type Locality, localityKey, localityOf } from '../model/locality.ts';
import { endpointsFor, subsetsOf } from '../model/snapshot-queries.ts';
import { type GatewaySniKey, gatewayEndpoints, gatewaySnis, metadata, type OutboundClusterKey, outboundClusters } from './generator-common.ts';
import { compactPriorities, distributeWeights, type LocalityPlan, localityPlan, rawPriority } from './generator-locality.ts';
import { trafficPolicyFor } from './generator-traffic-policy.ts';

/** How endpoints are presented to a proxy type. */
type EndpointView = 'mesh' | 'gateway' | 'plaintext';

interface LbEntry {
  locality: Locality;
  /** Before renumbering (generator-locality.ts); 0 without a locality plan. */
  priority: number;
  sortKey: string;
  lb: LbEndpoint;
}

const NO_PLAN: LocalityPlan = { kind: 'none' };

function lbEndpoint(address: string, port: number, weight: number, meta: LbEndpoint['metadata']): LbEndpoint {
  return {
    endpoint: { address: { socket_address: { address, port_value: port } } },
    health_status: 'HEALTHY',
    load_balancing_weight: { value: weight },
    ...(meta ? { metadata: meta } : {}),
  };
}

/**
 * - mesh (sidecar): local sidecar'd endpoints carry `meshfed.inbound_port`; local plaintext ones
 *   (including MESH_EXTERNAL ServiceEntry endpoints) `tlsMode: disabled`. A remote endpoint with a
 *   federation id is its own endpoint at its gateway's address, carrying `meshfed.sni` (the
 *   endpoint-qualified SNI of `key`), so that the sidecar balances, ejects and pools per remote
 *   endpoint; remote ones without an id (older peers) collapse per (cluster, gateway) into one
 *   gateway endpoint weighted by how many remote endpoints stand behind it.
 * - gateway (router): the local sidecar'd endpoints of this cluster that `generateEndpoints`
 *   passes (one for an endpoint-qualified SNI).
 * - plaintext (proxyless): local endpoints dialled directly at the app port, no remote ones.
 */
function lbEntries(
  eps: readonly EndpointModel[],
  view: EndpointView,
  key: OutboundClusterKey,
  plan: LocalityPlan,
  plaintext = false,
  mtlsDisabled: ReadonlySet<EndpointModel> = NONE_DISABLED,
): LbEntry[] {
  const out: LbEntry[] = [];
  const gateways = new Map<string, { cluster: string; locality: Locality; priority: number; address: string; port: number; count: number }>();
  for (const e of eps) {
    const locality = localityOf(e.labels, e.cluster);
    const priority = rawPriority(plan, e.labels, locality);
    if (e.kind === 'remote') {
      // Plaintext (tls DISABLE) cannot cross the SNI-routed east-west gateway: Istio leaves such
      // cross-network endpoints out too (see tlsDisabledRemoteWarnings).
      if (view !== 'mesh' || plaintext) continue;
      if (e.endpointId !== undefined) {
        const sni = endpointSniFor(e.endpointId, key.port, key.subset, key.hostname);
        const meta = metadata({
          [ENDPOINT_META.istio]: { tlsMode: 'istio', cluster_id: e.cluster },
          [ENDPOINT_META.meshfed]: { sni, workload: e.workload, namespace: e.namespace },
        });
        out.push({ locality, priority, sortKey: `${e.gateway.address}:${e.gateway.port} ${sni}`, lb: lbEndpoint(e.gateway.address, e.gateway.port, 1, meta) });
        continue;
      }
      // Remote endpoints share a gateway endpoint only within one locality and priority.
      const gk = `${e.cluster}|${e.gateway.address}|${e.gateway.port}|${localityKey(locality)}|${priority}`;
      const g = gateways.get(gk) ?? { cluster: e.cluster, locality, priority, address: e.gateway.address, port: e.gateway.port, count: 0 };
      g.count++;
      gateways.set(gk, g);
      continue;
    }
    const mesh = e.sidecar && view !== 'plaintext';
    // Istio's auto-mTLS: an endpoint whose PeerAuthentication is DISABLE on its port is `tlsMode: disabled`,
    // so clients send it plaintext (still through its sidecar's inbound port).
    const meta = metadata({
      [ENDPOINT_META.istio]: { tlsMode: mesh && !mtlsDisabled.has(e) ? 'istio' : 'disabled', cluster_id: e.cluster },
      [ENDPOINT_META.meshfed]: mesh
        ? { inbound_port: PORTS.sidecarInbound, workload: e.workload, namespace: e.namespace }
        : { workload: e.workload, namespace: e.namespace },
    });
    const port = e.targetPort ?? e.port;
    out.push({ locality, priority, sortKey: `${e.address}:${port}`, lb: lbEndpoint(e.address, port, e.weight ?? 1, meta) });
  }
  for (const g of gateways.values()) {
    const meta = metadata({ [ENDPOINT_META.istio]: { tlsMode: 'istio', cluster_id: g.cluster } });
    out.push({ locality: g.locality, priority: g.priority, sortKey: `${g.address}:${g.port}`, lb: lbEndpoint(g.address, g.port, g.count, meta) });
  }
  return out;
}

function localityMessage(l: Locality): NonNullable<LocalityLbEndpoints['locality']> {
  return { ...(l.region !== '' ? { region: l.region } : {}), zone: l.zone, ...(l.subZone !== '' ? { sub_zone: l.subZone } : {}) };
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One LocalityLbEndpoints per (priority, locality), sorted by both; without labels a locality is a
 * cluster (`locality.zone` = cluster). Weights are always set: a locality's is the sum of its
 * endpoints' unless `distribute` sets it (a locality it leaves out is dropped). `priority` is
 * written only when above 0.
 */
function localities(entries: LbEntry[], plan: LocalityPlan): LocalityLbEndpoints[] {
  const renumber = compactPriorities(entries.map((e) => e.priority));
  const groups = new Map<string, { locality: Locality; priority: number; list: LbEntry[] }>();
  for (const e of entries) {
    const priority = renumber.get(e.priority) ?? 0;
    const key = `${String(priority).padStart(4, '0')} ${localityKey(e.locality)}`;
    const g = groups.get(key) ?? { locality: e.locality, priority, list: [] };
    g.list.push(e);
    groups.set(key, g);
  }
  const ordered = [...groups.keys()].sort(byText).map((k) => groups.get(k) ?? { locality: localityOf({}, ''), priority: 0, list: [] });
  const sized = ordered.map((g) => ({ ...g, weight: g.list.reduce((sum, e) => sum + (e.lb.load_balancing_weight?.value ?? 1), 0) }));
  const weights = distributeWeights(plan, sized);
  const out: LocalityLbEndpoints[] = [];
  sized.forEach((g, i) => {
    const weight = weights[i];
    if (weight === undefined) return;
    const list = g.list.sort((a, b) => byText(a.sortKey, b.sortKey));
    out.push({
      locality: localityMessage(g.locality),
      lb_endpoints: list.map((e) => e.lb),
      load_balancing_weight: { value: weight },
      ...(g.priority > 0 ? { priority: g.priority } : {}),
    });
  });
  return out;
}

function assignment(name: string, endpoints: LocalityLbEndpoints[]): XdsResource {
  const resource: ClusterLoadAssignment = { '@type': TYPE_URL.endpoint, cluster_name: name, endpoints };
  return { name, resource };
}

/**
 * ClusterLoadAssignments memoised across snapshots. An assignment is a pure function of: the
 * service's endpoint list in the (view of the) snapshot, the subset's label selector, the view
 * (mesh / gateway / plaintext), the cluster key (name, host, port, subset, and for the gateway
 * its SNI and endpoint id), the locality plan (the proxy's locality and labels under the merged
 * localityLbSetting and outlier detection), plaintext (merged tls DISABLE), and the snapshot's
 * cluster (which endpoints are gateway backends). The endpoint list is keyed by identity
 * (buildSnapshot shares unchanged lists between snapshots), everything else by value; an entry
 * goes when its list does. A hit returns the same resource object, which the push server has
 * encoded already. DNS-resolved services and Sidecar scopes decide which clusters get an
 * assignment (and the scoped view's lists), not how one is built.
 */
const NONE_DISABLED: ReadonlySet<EndpointModel> = new Set();

/** The local sidecar'd endpoints in `eps` whose workload's PeerAuthentication mode on their port is DISABLE. */
function mtlsDisabledEndpoints(snap: Snapshot, eps: readonly EndpointModel[]): ReadonlySet<EndpointModel> {
  if (snap.peerAuthentications.length === 0) return NONE_DISABLED;
  const out = new Set<EndpointModel>();
  for (const e of eps) if (e.kind === 'local' && e.sidecar && workloadMtlsMode(snap, e, e.port) === 'DISABLE') out.add(e);
  return out;
}

const assignmentMemo = new WeakMap<readonly EndpointModel[], Map<string, XdsResource>>();

interface AssignmentInputs {
  view: EndpointView;
  key: OutboundClusterKey | GatewaySniKey;
  plan: LocalityPlan;
  plaintext: boolean;
}

function memoAssignment(snap: Snapshot, inputs: AssignmentInputs, build: () => LocalityLbEndpoints[]): XdsResource {
  const { key } = inputs;
  const list = snap.endpoints.get(key.hostname);
  if (list === undefined) return assignment(key.name, build());
  const selector = key.subset === '' ? {} : (subsetsOf(snap, key.hostname).find((x) => x.name === key.subset)?.labels ?? null);
  // Which endpoints PeerAuthentication DISABLE turns plaintext (by position in the list).
  const disabled = inputs.view === 'mesh' ? [...mtlsDisabledEndpoints(snap, list)].map((e) => list.indexOf(e)) : [];
  const memoKey = JSON.stringify([inputs.view, key, selector, inputs.plan, inputs.plaintext, snap.cluster, disabled]);
  let perList = assignmentMemo.get(list);
  if (!perList) {
    perList = new Map();
    assignmentMemo.set(list, perList);
  }
  let hit = perList.get(memoKey);
  if (!hit) {
    hit = assignment(key.name, build());
    perList.set(memoKey, hit);
  }
  return hit;
}

/**
 * The endpoints of one sidecar outbound cluster, as its EDS assignment (or, for a DNS-resolved
 * service, its inline `load_assignment`) carries them: the cluster's locality plan applies, and a
 * cluster whose merged `tls` is DISABLE leaves remote-cluster endpoints out.
 */
export function sidecarLocalities(proxy: ProxyNode, snap: Snapshot, k: OutboundClusterKey): LocalityLbEndpoints[] {
  const { plan, plaintext } = sidecarPlan(proxy, snap, k);
  const eps = endpointsFor(snap, k.hostname, k.port, k.subset);
  return localities(lbEntries(eps, 'mesh', k, plan, plaintext, mtlsDisabledEndpoints(snap, eps)), plan);
}

function sidecarPlan(proxy: ProxyNode, snap: Snapshot, k: OutboundClusterKey): { plan: LocalityPlan; plaintext: boolean } {
  const policy = trafficPolicyFor(snap, k.hostname, k.port, k.subset);
  return { plan: localityPlan(proxy, policy), plaintext: policy.tls?.mode === 'DISABLE' };
}

/** True when proxies resolve the service's endpoints themselves (ServiceEntry resolution DNS / DNS_ROUND_ROBIN). */
export function isDnsResolved(snap: Snapshot, hostname: string): boolean {
  return snap.services.get(hostname)?.resolution !== undefined;
}

/**
 * Remote-cluster endpoints that a DestinationRule with `tls.mode: DISABLE` leaves out, one line
 * per outbound cluster that has some: Pilot logs them as warnings on every push that changes them.
 */
export function tlsDisabledRemoteWarnings(snap: Snapshot): string[] {
  const out: string[] = [];
  for (const k of outboundClusters(snap)) {
    if (trafficPolicyFor(snap, k.hostname, k.port, k.subset).tls?.mode !== 'DISABLE') continue;
    const remote = endpointsFor(snap, k.hostname, k.port, k.subset).filter((e) => e.kind === 'remote').length;
    if (remote > 0) {
      out.push(`${k.name}: tls mode DISABLE leaves out ${remote} endpoint(s) in other clusters (plaintext cannot cross the east-west gateway; use ISTIO_MUTUAL to reach them)`);
    }
  }
  return out;
}

/**
 * EDS for one proxy: a ClusterLoadAssignment per cluster that `generateClusters` made of type EDS
 * (same names; DNS-resolved services have none), holding the endpoints that match the cluster's
 * subset. Every proxy type follows the cluster's `localityLbSetting` from its own cluster and
 * labels (generator-locality.ts): a sidecar for local and remote endpoints, the east-west gateway
 * among its local endpoints for a service SNI (an endpoint-qualified SNI has one endpoint and no
 * plan), and a proxyless gRPC client among the local endpoints it dials (grpc-js-xds honours EDS
 * priorities and locality weights).
 */
export function generateEndpoints(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  if (proxy.type === 'router') {
    return gatewaySnis(snap).map((k) => {
      const plan = k.endpointId === undefined ? localityPlan(proxy, trafficPolicyFor(snap, k.hostname, k.port, k.subset)) : NO_PLAN;
      return memoAssignment(snap, { view: 'gateway', key: k, plan, plaintext: false }, () => localities(lbEntries(gatewayEndpoints(snap, k), 'gateway', k, plan), plan));
    });
  }
  const keys = outboundClusters(snap).filter((k) => !isDnsResolved(snap, k.hostname));
  if (proxy.type === 'sidecar') {
    return keys.map((k) => {
      const { plan, plaintext } = sidecarPlan(proxy, snap, k);
      return memoAssignment(snap, { view: 'mesh', key: k, plan, plaintext }, () => {
        const eps = endpointsFor(snap, k.hostname, k.port, k.subset);
        return localities(lbEntries(eps, 'mesh', k, plan, plaintext, mtlsDisabledEndpoints(snap, eps)), plan);
      });
    });
  }
  return keys.map((k) => {
    const plan = localityPlan(proxy, trafficPolicyFor(snap, k.hostname, k.port, k.subset));
    return memoAssignment(snap, { view: 'plaintext', key: k, plan, plaintext: false }, () =>
      localities(lbEntries(endpointsFor(snap, k.hostname, k.port, k.subset), 'plaintext', k, plan), plan),
    );
  });
}
