import { isHttpProtocol } from '../../common/service-protocol.ts';
import { PORTS } from '../../common/ports.ts';
import { inboundClusterName, outboundClusterName } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { FilterChain, Listener, TcpProxy } from '../../xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { L4MatchRequest } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { ownEndpoints } from '../model/snapshot-queries.ts';
import { durationFromMs, MESH_TCP_ALPN, meshTlsContext } from './generator-common.ts';

/** Istio's default tcp_proxy idle timeout (1 h), stated so the receiver's view is explicit. */
export const TCP_IDLE_TIMEOUT_MS = 3_600_000;

/** Ports a sidecar binds for itself; a service port among them gets no outbound tcp listener. */
const RESERVED_PORTS: ReadonlySet<number> = new Set([PORTS.sidecarOutbound, PORTS.sidecarInbound, PORTS.sidecarAdmin, PORTS.sidecarHealth, PORTS.sidecarMetrics]);

/** `0.0.0.0_<port>`: Istio's name of the outbound listener of a TCP service port. */
export function tcpListenerName(port: number): string {
  return `0.0.0.0_${port}`;
}

/** A tcp_proxy to one cluster (`cluster`) or several (`weighted_clusters`). */
function tcpProxyFilter(statPrefix: string, clusters: readonly { name: string; weight: number }[]): FilterChain['filters'][number] {
  const target: Pick<TcpProxy, 'cluster' | 'weighted_clusters'> =
    clusters.length === 1 ? { cluster: clusters[0]?.name ?? '' } : { weighted_clusters: { clusters: clusters.map((c) => ({ ...c })) } };
  const config: TcpProxy = { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: statPrefix, ...target, idle_timeout: durationFromMs(TCP_IDLE_TIMEOUT_MS) };
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: config };
}

/** Whether an L4 match block applies to this proxy on this port (Istio evaluates them per proxy too). */
function l4Applies(m: L4MatchRequest, proxy: ProxyNode, port: number): boolean {
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== proxy.namespace) return false;
  for (const [k, v] of Object.entries(m.sourceLabels ?? {})) if (proxy.labels[k] !== v) return false;
  return true;
}

/**
 * Where a connection to `host:port` goes for this proxy: the first `tcp` rule of the host's
 * VirtualService with a match block that applies (no blocks: it applies), its destinations as
 * `outbound|<port>|<subset>|<host>` clusters with their weights (weight-0 destinations left out,
 * as Envoy refuses weight 0); no VirtualService or no rule applies: the service's own cluster.
 */
export function tcpDestinations(snap: Snapshot, host: string, port: number, proxy: ProxyNode): { name: string; weight: number }[] {
  const vs = snap.virtualServices.get(host);
  for (const rule of vs?.spec.tcp ?? []) {
    if (rule.match.length > 0 && !rule.match.some((m) => l4Applies(m, proxy, port))) continue;
    const out = rule.route
      .filter((r) => r.weight > 0)
      .map((r) => ({ name: outboundClusterName(r.destination.port ?? port, r.destination.subset, r.destination.host), weight: r.weight }));
    if (out.length > 0) return out;
  }
  return [{ name: outboundClusterName(port, '', host), weight: 1 }];
}

/**
 * The outbound listeners of a sidecar for TCP and TLS service ports: one `0.0.0.0_<port>` per port,
 * bound on the proxy's address (the app connects to its sidecar's address and the service port,
 * meshfed's stand-in for capture), with one tcp_proxy chain to `outbound|<port>||<host>`.
 * Without capture a connection carries no destination address, so one port leads to one
 * service: the first by hostname wins, as Istio resolves a port conflict by age; a port the
 * proxy's own workload serves, or one the sidecar binds itself, gets no listener. The chain's
 * tcp_proxy follows the host's VirtualService `tcp` rules (tcpDestinations).
 */
export function outboundTcpListeners(proxy: ProxyNode, snap: Snapshot, ip: string): Listener[] {
  const own = new Set(ownEndpoints(snap, proxy).map((e) => e.port));
  const byPort = new Map<number, string>();
  const hosts = [...snap.services.keys()].sort();
  for (const host of hosts) {
    const service = snap.services.get(host);
    for (const p of service?.ports ?? []) {
      if (isHttpProtocol(p.protocol) || own.has(p.port) || RESERVED_PORTS.has(p.port) || byPort.has(p.port)) continue;
      byPort.set(p.port, host);
    }
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, host]) => {
      const cluster = outboundClusterName(port, '', host);
      return {
        '@type': TYPE_URL.listener,
        name: tcpListenerName(port),
        address: { socket_address: { address: ip, port_value: port } },
        traffic_direction: 'OUTBOUND',
        filter_chains: [{ name: cluster, filters: [tcpProxyFilter(cluster, tcpDestinations(snap, host, port, proxy))] }],
      };
    });
}

/**
 * The inbound filter chain of a TCP or TLS app port on `virtualInbound`: matched by destination
 * port and the mesh TCP ALPN (`istio-peer-exchange`, `istio`: HTTP chains are reached with `h2`),
 * mesh mTLS with a client certificate required, tcp_proxy to `inbound|<port>||`.
 */
export function inboundTcpChain(port: number): FilterChain {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    filter_chain_match: { destination_port: { value: port }, application_protocols: [...MESH_TCP_ALPN] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPED_CONFIG.downstreamTls,
        common_tls_context: meshTlsContext(['meshfed-peer-exchange', 'istio']),
        require_client_certificate: { value: true },
      },
    },
    filters: [tcpProxyFilter(`inbound_0.0.0.0_${port}`, [{ name: cluster, weight: 1 }])],
  };
}
