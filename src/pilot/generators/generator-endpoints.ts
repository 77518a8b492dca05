import { PORTS } from '../../common/ports.ts';
import { ENDPOINT_META } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { ClusterLoadAssignment, LbEndpoint, LocalityLbEndpoints, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { EndpointModel, Snapshot } from '../model/snapshot.ts';
import { endpointsFor } from '../model/snapshot-queries.ts';
import { gatewaySnis, metadata, outboundClusters } from './generator-common.ts';

/** How endpoints are presented to a proxy type. */
type EndpointView = 'mesh' | 'gateway' | 'plaintext';

interface LbEntry {
  cluster: string;
  sortKey: string;
  lb: LbEndpoint;
}

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
 *   (including MESH_EXTERNAL ServiceEntry endpoints) `tlsMode: disabled`; remote ones collapse per (cluster, gateway) into one gateway endpoint
 *   weighted by how many remote endpoints stand behind it.
 * - gateway (router): local sidecar'd endpoints of this cluster only.
 * - plaintext (proxyless): local endpoints dialled directly at the app port, no remote ones.
 */
function lbEntries(eps: readonly EndpointModel[], view: EndpointView, localCluster: string): LbEntry[] {
  const out: LbEntry[] = [];
  const gateways = new Map<string, { cluster: string; address: string; port: number; count: number }>();
  for (const e of eps) {
    if (e.kind === 'remote') {
      if (view !== 'mesh') continue;
      const key = `${e.cluster}|${e.gateway.address}|${e.gateway.port}`;
      const g = gateways.get(key) ?? { cluster: e.cluster, address: e.gateway.address, port: e.gateway.port, count: 0 };
      g.count++;
      gateways.set(key, g);
      continue;
    }
    if (view === 'gateway' && (!e.sidecar || e.cluster !== localCluster)) continue;
    const mesh = e.sidecar && view !== 'plaintext';
    const meta = metadata({
      [ENDPOINT_META.istio]: { tlsMode: mesh ? 'istio' : 'disabled', cluster_id: e.cluster },
      [ENDPOINT_META.meshfed]: mesh
        ? { inbound_port: PORTS.sidecarInbound, workload: e.workload, namespace: e.namespace }
        : { workload: e.workload, namespace: e.namespace },
    });
    const port = e.targetPort ?? e.port;
    out.push({ cluster: e.cluster, sortKey: `${e.address}:${port}`, lb: lbEndpoint(e.address, port, e.weight ?? 1, meta) });
  }
  for (const g of gateways.values()) {
    const meta = metadata({ [ENDPOINT_META.istio]: { tlsMode: 'istio', cluster_id: g.cluster } });
    out.push({ cluster: g.cluster, sortKey: `${g.address}:${g.port}`, lb: lbEndpoint(g.address, g.port, g.count, meta) });
  }
  return out;
}

/** One locality per cluster (`locality.zone` = cluster), sorted; weights always set. */
function localities(entries: LbEntry[]): LocalityLbEndpoints[] {
  const byCluster = new Map<string, LbEntry[]>();
  for (const e of entries) byCluster.set(e.cluster, [...(byCluster.get(e.cluster) ?? []), e]);
  return [...byCluster.keys()].sort().map((cluster) => {
    const list = (byCluster.get(cluster) ?? []).sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    const weight = list.reduce((sum, e) => sum + (e.lb.load_balancing_weight?.value ?? 1), 0);
    return { locality: { zone: cluster }, lb_endpoints: list.map((e) => e.lb), load_balancing_weight: { value: weight } };
  });
}

function assignment(name: string, endpoints: LocalityLbEndpoints[]): XdsResource {
  const resource: ClusterLoadAssignment = { '@type': TYPE_URL.endpoint, cluster_name: name, endpoints };
  return { name, resource };
}

/**
 * EDS for one proxy: a ClusterLoadAssignment per cluster that `generateClusters` made of type EDS
 * (same names), holding the endpoints that match the cluster's subset.
 */
export function generateEndpoints(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  if (proxy.type === 'router') {
    return gatewaySnis(snap).map((k) =>
      assignment(k.name, localities(lbEntries(endpointsFor(snap, k.hostname, k.port, k.subset), 'gateway', snap.cluster))),
    );
  }
  const view: EndpointView = proxy.type === 'sidecar' ? 'mesh' : 'plaintext';
  return outboundClusters(snap).map((k) =>
    assignment(k.name, localities(lbEntries(endpointsFor(snap, k.hostname, k.port, k.subset), view, snap.cluster))),
  );
}
