import { isHttpProtocol } from '../../common/service-protocol.ts';
import { PORTS } from '../../common/ports.ts';
import { inboundClusterName, outboundClusterName } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { FilterChain, Listener, NetworkFilter, TcpProxy } from '../../xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { L4MatchRequest, TlsRoute } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { ownEndpoints } from '../model/snapshot-queries.ts';
import { durationFromMs, inboundMeshTlsContext, MESH_TCP_ALPN } from './generator-common.ts';

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

function weightedClusters(route: TlsRoute['route'], port: number): { name: string; weight: number }[] {
  return route
    .filter((r) => r.weight > 0)
    .map((r) => ({ name: outboundClusterName(r.destination.port ?? port, r.destination.subset, r.destination.host), weight: r.weight }));
}

function tcpProxyChain(name: string, clusters: readonly { name: string; weight: number }[], serverNames?: readonly string[]): FilterChain {
  return {
    name,
    ...(serverNames !== undefined ? { filter_chain_match: { server_names: [...serverNames] } } : {}),
    filters: [tcpProxyFilter(name, clusters)],
  };
}

/**
 * The SNI chains of port `port`, hosts in name order: first each host's VirtualService `tls`
 * rules, one chain per (rule, match block that applies to this proxy) with `server_names` = its
 * sniHosts (lower-cased); an SNI already claimed by an earlier chain is left out, as Envoy refuses
 * two chains with the same match (Istio keeps the first too). Then each `tls` host not yet
 * claimed gets a chain for its own hostname to its tcp destinations. Empty: the port needs no SNI.
 */
function sniChains(snap: Snapshot, hosts: readonly { host: string; tls: boolean }[], port: number, proxy: ProxyNode): FilterChain[] {
  const claimed = new Set<string>();
  const claim = (names: readonly string[]): string[] => {
    const out = [...new Set(names.map((n) => n.toLowerCase()))].filter((n) => !claimed.has(n));
    for (const n of out) claimed.add(n);
    return out;
  };
  const chains: FilterChain[] = [];
  for (const { host } of hosts) {
    const vs = snap.virtualServices.get(host);
    (vs?.spec.tls ?? []).forEach((rule, ri) => {
      const clusters = weightedClusters(rule.route, port);
      if (clusters.length === 0) return;
      rule.match.forEach((m, mi) => {
        if (!l4Applies(m, proxy, port)) return;
        const names = claim(m.sniHosts);
        if (names.length > 0) chains.push(tcpProxyChain(`tls|${port}|${vs?.metadata.namespace}/${vs?.metadata.name}|${ri}|${mi}`, clusters, names));
      });
    });
  }
  const anyRules = chains.length > 0 || hosts.some((h) => (snap.virtualServices.get(h.host)?.spec.tls ?? []).length > 0);
  if (!anyRules && !hosts.some((h) => h.tls)) return [];
  for (const { host, tls } of hosts) {
    if (!tls) continue;
    const names = claim([host]);
    if (names.length > 0) chains.push(tcpProxyChain(outboundClusterName(port, '', host), tcpDestinations(snap, host, port, proxy), names));
  }
  return chains;
}

/**
 * The outbound listeners of a sidecar for TCP and TLS service ports: one `0.0.0.0_<port>` per port,
 * bound on the proxy's address (the app connects to its sidecar's address and the service port,
 * meshfed's stand-in for capture). A port the proxy's own workload serves, or one the sidecar
 * binds itself, gets no listener.
 * - Raw TCP only: without capture a connection carries no destination address, so one port leads
 *   to one service, the first by hostname (Istio resolves a port conflict by age); one tcp_proxy
 *   chain follows its VirtualService `tcp` rules (tcpDestinations).
 * - A `tls` port, or a port of a host with VirtualService `tls` rules: the ClientHello names the
 *   destination. The listener gets `envoy.filters.listener.tls_inspector` and the SNI chains of
 *   every host on the port (sniChains), then a default chain without `server_names` (no SNI, an
 *   unclaimed SNI, or no TLS at all) to the first host's tcp destinations.
 */
export function outboundTcpListeners(proxy: ProxyNode, snap: Snapshot, ip: string): Listener[] {
  const own = new Set(ownEndpoints(snap, proxy).map((e) => e.port));
  const byPort = new Map<number, { host: string; tls: boolean }[]>();
  const hosts = [...snap.services.keys()].sort();
  for (const host of hosts) {
    const service = snap.services.get(host);
    for (const p of service?.ports ?? []) {
      if (isHttpProtocol(p.protocol) || own.has(p.port) || RESERVED_PORTS.has(p.port)) continue;
      const list = byPort.get(p.port) ?? [];
      if (list.some((x) => x.host === host)) continue;
      list.push({ host, tls: p.protocol === 'tls' });
      byPort.set(p.port, list);
    }
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, onPort]): Listener => {
      const first = onPort[0]?.host ?? '';
      const cluster = outboundClusterName(port, '', first);
      const base = { '@type': TYPE_URL.listener, name: tcpListenerName(port), address: { socket_address: { address: ip, port_value: port } }, traffic_direction: 'OUTBOUND' as const };
      const byName = sniChains(snap, onPort, port, proxy);
      const fallback = tcpProxyChain(cluster, tcpDestinations(snap, first, port, proxy));
      if (byName.length === 0) return { ...base, filter_chains: [fallback] };
      return {
        ...base,
        listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TYPED_CONFIG.tlsInspector } }],
        filter_chains: [...byName, fallback],
      };
    });
}

/**
 * The inbound filter chain of a TCP or TLS app port on `virtualInbound`: matched by destination
 * port and the mesh TCP ALPN (`istio-peer-exchange`, `istio`: HTTP chains are reached with `h2`),
 * mesh mTLS with a client certificate required (peers of `trustDomains` only), tcp_proxy to `inbound|<port>||`.
 */
export function inboundTcpChain(port: number, trustDomains: readonly string[], authz: readonly NetworkFilter[] = []): FilterChain {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    filter_chain_match: { destination_port: { value: port }, transport_protocol: 'tls', application_protocols: [...MESH_TCP_ALPN] },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPED_CONFIG.downstreamTls,
        common_tls_context: inboundMeshTlsContext(trustDomains, ['meshfed-peer-exchange', 'istio']),
        require_client_certificate: { value: true },
      },
    },
    filters: [...authz, tcpProxyFilter(`inbound_0.0.0.0_${port}`, [{ name: cluster, weight: 1 }])],
  };
}

/**
 * The plaintext twin of inboundTcpChain, as Istio's PERMISSIVE inbound listener has one:
 * `transport_protocol: raw_buffer` on the same destination port, no transport socket, tcp_proxy to
 * the same `inbound|<port>||` cluster. It takes callers whose DestinationRule sets tls DISABLE and
 * callers outside the mesh (src/sidecar/inbound-tcp.ts).
 */
export function inboundPlaintextTcpChain(port: number, authz: readonly NetworkFilter[] = []): FilterChain {
  const cluster = inboundClusterName(port);
  return {
    name: `${cluster}-plaintext`,
    filter_chain_match: { destination_port: { value: port }, transport_protocol: 'raw_buffer' },
    filters: [...authz, tcpProxyFilter(`inbound_0.0.0.0_${port}`, [{ name: cluster, weight: 1 }])],
  };
}
