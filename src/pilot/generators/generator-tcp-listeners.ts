import { isHttpProtocol } from '../../common/service-protocol.ts';
import { PORTS } from '../../common/ports.ts';
import { inboundClusterName, outboundClusterName } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { FilterChain, Listener, TcpProxy } from '../../xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../xds/type-urls.ts';
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

function tcpProxyFilter(statPrefix: string, cluster: string): FilterChain['filters'][number] {
  const config: TcpProxy = { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: statPrefix, cluster, idle_timeout: durationFromMs(TCP_IDLE_TIMEOUT_MS) };
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: config };
}

/**
 * The outbound listeners of a sidecar for TCP and TLS service ports: one `0.0.0.0_<port>` per port,
 * bound on the proxy's address (the app connects to its sidecar's address and the service port,
 * meshfed's stand-in for capture), with one tcp_proxy chain to `outbound|<port>||<host>`.
 * Without capture a connection carries no destination address, so one port leads to one
 * service: the first by hostname wins, as Istio resolves a port conflict by age; a port the
 * proxy's own workload serves, or one the sidecar binds itself, gets no listener.
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
        filter_chains: [{ name: cluster, filters: [tcpProxyFilter(cluster, cluster)] }],
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
      typed_config: { '@type': TYPED_CONFIG.downstreamTls, common_tls_context: meshTlsContext(['istio']), require_client_certificate: { value: true } },
    },
    filters: [tcpProxyFilter(`inbound_0.0.0.0_${port}`, cluster)],
  };
}
