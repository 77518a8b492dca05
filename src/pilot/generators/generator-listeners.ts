import { PORTS } from '../../common/ports.ts';
import { BLACKHOLE_CLUSTER, inboundClusterName, LISTENER, PASSTHROUGH_CLUSTER, ROUTE_OUTBOUND } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { FilterChain, HttpFilter, Listener, NetworkFilter, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../xds/type-urls.ts';
import { isIP } from 'node:net';
import type { LocalEndpoint, ServiceModel, Snapshot } from '../model/snapshot.ts';
import { ownEndpoints } from '../model/snapshot-queries.ts';
import { type EffectiveMtlsMode, workloadMtlsMode } from '../model/peer-authentication.ts';
import { isHttpProtocol } from '../../common/service-protocol.ts';
import { durationFromMs, gatewaySnis, inboundMeshTlsContext, meshTrustDomains, pathNormalizationFields, portProtocol, rdsConnectionManager, routerFilter, WEBSOCKET_UPGRADE } from './generator-common.ts';
import type { MeshConfig } from '../config/mesh-config.ts';
import { inboundPlaintextTcpChain, inboundTcpChain, outboundTcpListeners, TCP_IDLE_TIMEOUT_MS } from './generator-tcp-listeners.ts';
import { hostPortName, httpPorts } from './generator-routes.ts';
import { authorizationPoliciesFor, requestAuthenticationsFor } from '../model/authorization-scope.ts';
import type { AuthorizationPolicyConfig, RequestAuthenticationConfig } from '../config/config-types.ts';
import { jwtAuthnHttpFilters } from './generator-jwt-authn.ts';
import { rbacHttpFilters, rbacNetworkFilters } from './generator-rbac.ts';

function socketAddress(address: string, port: number): Listener['address'] {
  return { socket_address: { address, port_value: port } };
}

/** The local reply of an inbound chain to a request for a host that is not the workload's (case 17). */
export const MISDIRECTED_VIRTUAL_HOST = 'inbound|misdirected';

/**
 * The names an in-mesh caller may send as `:authority` to this workload on `port`: every name of
 * each service it serves there (the FQDN, `<name>.<ns>.svc`, `<name>.<ns>`, and the short name,
 * which callers of its own namespace use), each bare and with the port; the workload's own
 * address and `localhost` (probes and callers that dial the pod IP), bare and with the port.
 * Sorted and unique. A request through the east-west gateway carries the same service's names.
 */
export function inboundDomains(services: readonly ServiceModel[], port: number, ip: string, domainSuffix: string): string[] {
  const names = new Set<string>();
  for (const service of services) {
    names.add(service.hostname);
    if (service.hostname === `${service.name}.${service.namespace}.svc.${domainSuffix}`) {
      names.add(`${service.name}.${service.namespace}.svc`).add(`${service.name}.${service.namespace}`).add(service.name);
    }
  }
  if (ip !== '' && ip !== '0.0.0.0' && ip !== '::') names.add(isIP(ip) === 6 ? `[${ip}]` : ip);
  names.add('localhost');
  const out = new Set<string>();
  for (const n of names) out.add(n).add(`${n}:${port}`);
  return [...out].sort();
}

/**
 * An inbound HTTP chain for one app port: `tls` is the mesh mTLS chain (client certificate
 * required), `raw_buffer` its plaintext twin (PERMISSIVE or DISABLE: no transport socket, no
 * peer, so no XFCC), told apart by `transport_protocol` as Istio's inbound listener does. `authz`
 * are the workload's RBAC filters (generator-rbac.ts), on both chains. Its routes serve the
 * workload's own hosts (`domains`, inboundDomains) only; any other `:authority` (SNI of service a,
 * `:authority` b) gets 421 Misdirected Request from the catch-all virtual host and never reaches
 * the app.
 */
function inboundChain(
  port: number,
  transport: 'tls' | 'raw_buffer',
  authz: readonly HttpFilter[],
  mesh: MeshConfig,
  trustDomains: readonly string[],
  domains: readonly string[],
): FilterChain {
  const cluster = inboundClusterName(port);
  const tls: Pick<FilterChain, 'transport_socket'> =
    transport === 'tls'
      ? {
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': TYPED_CONFIG.downstreamTls,
              common_tls_context: inboundMeshTlsContext(trustDomains),
              require_client_certificate: { value: true },
            },
          },
        }
      : {};
  return {
    name: transport === 'tls' ? cluster : `${cluster}-plaintext`,
    filter_chain_match: { destination_port: { value: port }, transport_protocol: transport },
    ...tls,
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': TYPED_CONFIG.httpConnectionManager,
          stat_prefix: `inbound_0.0.0.0_${port}`,
          codec_type: 'AUTO',
          route_config: {
            name: cluster,
            virtual_hosts: [
              { name: `inbound|http|${port}`, domains: [...domains], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster } }] },
              {
                name: MISDIRECTED_VIRTUAL_HOST,
                domains: ['*'],
                routes: [
                  {
                    name: 'misdirected',
                    match: { prefix: '/' },
                    direct_response: { status: 421, body: { inline_string: `misdirected request: this workload does not serve that host on port ${port}` } },
                  },
                ],
              },
            ],
          },
          // RequestAuthentication (generator-jwt-authn.ts), then AuthorizationPolicy (generator-rbac.ts), before the router.
          http_filters: [...authz, routerFilter()],
          forward_client_cert_details: 'SANITIZE_SET',
          set_current_client_cert_details: { uri: true },
          // Websocket from another sidecar arrives as RFC 8441 extended CONNECT over the mesh's HTTP/2.
          upgrade_configs: [WEBSOCKET_UPGRADE],
          http2_protocol_options: { allow_connect: true },
          ...pathNormalizationFields(mesh.pathNormalization),
        },
      },
    ],
  };
}

function sidecarListeners(proxy: ProxyNode, snap: Snapshot): Listener[] {
  const own = ownEndpoints(snap, proxy);
  const ip = proxy.ip || own[0]?.address || '0.0.0.0';
  const capture = proxy.interceptionMode === 'REDIRECT';
  const tcp = outboundTcpListeners(proxy, snap, capture ? '0.0.0.0' : ip);
  // Capture: the per-port listeners bind nothing; virtualOutbound hands them their connections.
  const policies = authorizationPoliciesFor(snap, proxy);
  const authn = requestAuthenticationsFor(snap, proxy);
  return [...sidecarVirtualListeners(snap, own, ip, capture, policies, authn), ...(capture ? tcp.map((l): Listener => ({ ...l, bind_to_port: { value: false } })) : tcp)];
}

/** One memo entry: the inputs besides the workload's endpoint list, and the listeners made of them. */
interface VirtualListenersEntry {
  readonly ip: string;
  /** The proxy captures traffic (INTERCEPTION_MODE REDIRECT): virtualOutbound on 0.0.0.0 with use_original_dst. */
  readonly capture: boolean;
  /** The service objects of the workload's endpoints' hosts (their ports' protocols). */
  readonly services: readonly unknown[];
  /** The AuthorizationPolicies of the workload (authorization-scope.ts memoises them per snapshot). */
  readonly policies: readonly AuthorizationPolicyConfig[];
  /** The RequestAuthentications of the workload, and the snapshot's fetched key sets. */
  readonly authn: readonly RequestAuthenticationConfig[];
  readonly jwks: Snapshot['jwks'];
  /** The snapshot's PeerAuthentications (the inbound chains follow the workload's mTLS modes). */
  readonly peerAuthentications: readonly unknown[];
  /** The snapshot's mesh config (path normalization, trust domain aliases). */
  readonly mesh: MeshConfig;
  readonly listeners: readonly Listener[];
}

/**
 * `virtualOutbound` and `virtualInbound` of a sidecar, memoised across snapshots by the identity of
 * its workload's endpoint list (buildSnapshot shares unchanged ones), its ip, whether it captures,
 * and the service objects its inbound chains read protocols from. One entry per list: a
 * workload's replicas share the list but not the ip, so a miss on another ip replaces it. A hit
 * is the same objects, which the push server has encoded already; callers never mutate them.
 */
const virtualListenersMemo = new WeakMap<readonly LocalEndpoint[], VirtualListenersEntry>();

function sidecarVirtualListeners(
  snap: Snapshot,
  own: readonly LocalEndpoint[],
  ip: string,
  capture: boolean,
  policies: readonly AuthorizationPolicyConfig[],
  authn: readonly RequestAuthenticationConfig[],
): readonly Listener[] {
  // A capture proxy's virtualOutbound also reads every service's HTTP ports and the traffic policy.
  if (capture) return virtualListeners(snap, own, ip, capture, policies, authn);
  const services = own.map((e) => snap.services.get(e.hostname));
  const hit = virtualListenersMemo.get(own);
  if (
    hit &&
    hit.ip === ip &&
    hit.capture === capture &&
    hit.policies === policies &&
    hit.authn === authn &&
    hit.jwks === snap.jwks &&
    hit.peerAuthentications === snap.peerAuthentications &&
    hit.mesh === snap.mesh &&
    hit.services.length === services.length &&
    hit.services.every((s, i) => s === services[i])
  ) {
    return hit.listeners;
  }
  const listeners = Object.freeze(virtualListeners(snap, own, ip, capture, policies, authn));
  virtualListenersMemo.set(own, { ip, capture, services, policies, authn, jwks: snap.jwks, peerAuthentications: snap.peerAuthentications, mesh: snap.mesh, listeners });
  return listeners;
}

function outboundHttpFilter(mesh: MeshConfig): FilterChain['filters'][number] {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: rdsConnectionManager(`outbound_0.0.0.0_${PORTS.sidecarOutbound}`, ROUTE_OUTBOUND, 'sidecar', mesh.pathNormalization),
  };
}

/**
 * virtualOutbound's chains on a capture proxy: the HTTP chain (RDS `outbound`, routed by Host) for
 * connections whose original destination port is 15001 itself (not redirected) or an HTTP port of
 * a visible service, one chain per port; every other port (no `0.0.0.0_<port>` listener either)
 * takes the default chain, Istio's `PassthroughFilterChain`: a tcp_proxy to PassthroughCluster under
 * ALLOW_ANY (the mesh default here, as Istio's meshConfig) or BlackHoleCluster under REGISTRY_ONLY.
 */
function captureOutboundChains(snap: Snapshot): FilterChain[] {
  const ports = new Set<number>([PORTS.sidecarOutbound]);
  for (const service of snap.services.values()) for (const { port } of httpPorts(service)) ports.add(port);
  const http = [...ports].sort((a, b) => a - b).map((port): FilterChain => ({
    name: `${LISTENER.virtualOutbound}_${port}`,
    filter_chain_match: { destination_port: { value: port } },
    filters: [outboundHttpFilter(snap.mesh)],
  }));
  const cluster = snap.outboundTrafficPolicy === 'REGISTRY_ONLY' ? BLACKHOLE_CLUSTER : PASSTHROUGH_CLUSTER;
  const passthrough: FilterChain = {
    name: 'PassthroughFilterChain',
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: cluster, cluster, idle_timeout: durationFromMs(TCP_IDLE_TIMEOUT_MS) },
      },
    ],
  };
  return [...http, passthrough];
}

function virtualListeners(
  snap: Snapshot,
  own: readonly LocalEndpoint[],
  ip: string,
  capture: boolean,
  policies: readonly AuthorizationPolicyConfig[],
  authn: readonly RequestAuthenticationConfig[],
): Listener[] {
  // RequestAuthentication's JWT filter runs before AuthorizationPolicy's RBAC, which reads its facts.
  const authz = [...jwtAuthnHttpFilters(authn, snap.jwks), ...rbacHttpFilters(policies, meshTrustDomains(snap))];
  // AuthorizationPolicy on TCP ports: network RBAC with the L4 part of each rule (tcpRule).
  const tcpAuthz = rbacNetworkFilters(policies, meshTrustDomains(snap));
  const ports = [...new Set(own.map((e) => e.port))].sort((a, b) => a - b);
  const listeners: Listener[] = [
    {
      '@type': TYPE_URL.listener,
      name: LISTENER.virtualOutbound,
      // Captured connections arrive at 127.0.0.1:15001 (iptables REDIRECT of locally sent traffic).
      address: socketAddress(capture ? '0.0.0.0' : ip, PORTS.sidecarOutbound),
      ...(capture ? { use_original_dst: { value: true } } : {}),
      traffic_direction: 'OUTBOUND',
      filter_chains: capture
        ? captureOutboundChains(snap)
        : [
            {
              name: LISTENER.virtualOutbound,
              filters: [outboundHttpFilter(snap.mesh)],
            },
          ],
    },
  ];
  // Envoy rejects a listener without filter chains: no own workload port, no inbound listener.
  if (ports.length > 0) {
    const tcp = (port: number): boolean => own.some((e) => e.port === port && !isHttpProtocol(portProtocol(snap, e.hostname, port)));
    const workload = { namespace: own[0]?.namespace ?? '', labels: own[0]?.labels ?? {} };
    listeners.push({
      '@type': TYPE_URL.listener,
      name: LISTENER.virtualInbound,
      address: socketAddress(ip, PORTS.sidecarInbound),
      traffic_direction: 'INBOUND',
      filter_chains: ports.flatMap((port) => {
        const services = own.filter((e) => e.port === port).flatMap((e) => snap.services.get(e.hostname) ?? []);
        const domains = inboundDomains(services, port, ip, snap.domainSuffix);
        return inboundChains(port, tcp(port), workloadMtlsMode(snap, workload, port), authz, tcpAuthz, snap.mesh, meshTrustDomains(snap), domains);
      }),
    });
  }
  return listeners;
}

/**
 * The inbound chains of one app port under its PeerAuthentication mode: STRICT only the mTLS
 * chain, PERMISSIVE the mTLS chain and its plaintext twin, DISABLE only the plaintext chain.
 */
function inboundChains(
  port: number,
  tcp: boolean,
  mode: EffectiveMtlsMode,
  authz: readonly HttpFilter[],
  tcpAuthz: readonly NetworkFilter[],
  mesh: MeshConfig,
  trustDomains: readonly string[],
  domains: readonly string[],
): FilterChain[] {
  const secure = tcp ? inboundTcpChain(port, trustDomains, tcpAuthz) : inboundChain(port, 'tls', authz, mesh, trustDomains, domains);
  const plain = tcp ? inboundPlaintextTcpChain(port, tcpAuthz) : inboundChain(port, 'raw_buffer', authz, mesh, trustDomains, domains);
  return mode === 'STRICT' ? [secure] : mode === 'DISABLE' ? [plain] : [secure, plain];
}

/** Envoy rejects a listener without filter chains, so nothing exported means no listener. */
function gatewayListeners(proxy: ProxyNode, snap: Snapshot): Listener[] {
  const snis = gatewaySnis(snap);
  if (snis.length === 0) return [];
  return [
    {
      '@type': TYPE_URL.listener,
      name: LISTENER.eastWestGateway,
      address: socketAddress(proxy.ip || '0.0.0.0', PORTS.eastWestGateway),
      listener_filters: [
        { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TYPED_CONFIG.tlsInspector } },
      ],
      filter_chains: snis.map(({ sni }) => ({
        name: sni,
        filter_chain_match: { server_names: [sni] },
        filters: [
          { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: sni, cluster: sni } },
        ],
      })),
    },
  ];
}

function proxylessListeners(snap: Snapshot): Listener[] {
  const out: Listener[] = [];
  for (const service of snap.services.values()) {
    const ports = httpPorts(service);
    for (const { port } of ports) {
      const route = hostPortName(service.hostname, port);
      const names = ports.length === 1 ? [route, service.hostname] : [route];
      for (const name of names) {
        out.push({
          '@type': TYPE_URL.listener,
          name,
          api_listener: { api_listener: rdsConnectionManager(name, route, 'proxyless') },
        });
      }
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * LDS for one proxy.
 * - sidecar: `virtualOutbound` (proxy ip:15001, HTTP via RDS `outbound`), `virtualInbound`
 *   (proxy ip:15006, per own app port the chains its PeerAuthentication mode asks for, see
 *   inboundChains: mTLS and/or plaintext, inline route to `inbound|<port>||`, or tcp_proxy for a
 *   tcp/tls port, generator-tcp-listeners.ts) and one `0.0.0.0_<port>`
 *   tcp_proxy listener per reachable tcp/tls service port. A capture proxy (node metadata
 *   `INTERCEPTION_MODE: REDIRECT`) gets, as in Istio, `virtualOutbound` on 0.0.0.0:15001 with
 *   `use_original_dst` and its `0.0.0.0_<port>` listeners on 0.0.0.0 with `bind_to_port: false`:
 *   a captured connection goes to the listener of its original destination port, to an HTTP
 *   chain of virtualOutbound (routed by Host) when that port is 15001 or an HTTP service port,
 *   else to the default chain: PassthroughCluster (ALLOW_ANY, the default) or BlackHoleCluster
 *   (REGISTRY_ONLY), see captureOutboundChains.
 * - router: `eastwestgateway_15443`, tls_inspector and one tcp_proxy chain per exported SNI (service
 *   SNIs and endpoint-qualified SNIs, `gatewaySnis`); any other SNI matches no chain and is refused.
 * - proxyless: api listeners `<host>:<port>` (and `<host>` for single-port services) over RDS, for
 *   HTTP-family ports only (a gRPC client cannot speak raw TCP).
 */
export function generateListeners(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  const listeners =
    proxy.type === 'sidecar' ? sidecarListeners(proxy, snap) : proxy.type === 'router' ? gatewayListeners(proxy, snap) : proxylessListeners(snap);
  return listeners.map((resource) => ({ name: resource.name, resource }));
}
