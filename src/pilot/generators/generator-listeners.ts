import { PORTS } from '../../common/ports.ts';
import { inboundClusterName, LISTENER, ROUTE_OUTBOUND } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { FilterChain, Listener, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { ownEndpoints } from '../model/snapshot-queries.ts';
import { isHttpProtocol } from '../../common/service-protocol.ts';
import { gatewaySnis, meshTlsContext, portProtocol, rdsConnectionManager, routerFilter, WEBSOCKET_UPGRADE } from './generator-common.ts';
import { inboundTcpChain, outboundTcpListeners } from './generator-tcp-listeners.ts';
import { hostPortName, httpPorts } from './generator-routes.ts';

function socketAddress(address: string, port: number): Listener['address'] {
  return { socket_address: { address, port_value: port } };
}

function inboundChain(port: number): FilterChain {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    filter_chain_match: { destination_port: { value: port } },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': TYPED_CONFIG.downstreamTls,
        common_tls_context: meshTlsContext(),
        require_client_certificate: { value: true },
      },
    },
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
              { name: `inbound|http|${port}`, domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster } }] },
            ],
          },
          http_filters: [routerFilter()],
          forward_client_cert_details: 'SANITIZE_SET',
          set_current_client_cert_details: { uri: true },
          // Websocket from another sidecar arrives as RFC 8441 extended CONNECT over the mesh's HTTP/2.
          upgrade_configs: [WEBSOCKET_UPGRADE],
          http2_protocol_options: { allow_connect: true },
        },
      },
    ],
  };
}

function sidecarListeners(proxy: ProxyNode, snap: Snapshot): Listener[] {
  const own = ownEndpoints(snap, proxy);
  const ip = proxy.ip || own[0]?.address || '0.0.0.0';
  const capture = proxy.interceptionMode === 'REDIRECT';
  const ports = [...new Set(own.map((e) => e.port))].sort((a, b) => a - b);
  const listeners: Listener[] = [
    {
      '@type': TYPE_URL.listener,
      name: LISTENER.virtualOutbound,
      // Captured connections arrive at 127.0.0.1:15001 (iptables REDIRECT of locally sent traffic).
      address: socketAddress(capture ? '0.0.0.0' : ip, PORTS.sidecarOutbound),
      ...(capture ? { use_original_dst: { value: true } } : {}),
      traffic_direction: 'OUTBOUND',
      filter_chains: [
        {
          name: LISTENER.virtualOutbound,
          filters: [
            {
              name: 'envoy.filters.network.http_connection_manager',
              typed_config: rdsConnectionManager(`outbound_0.0.0.0_${PORTS.sidecarOutbound}`, ROUTE_OUTBOUND, 'sidecar'),
            },
          ],
        },
      ],
    },
  ];
  // Envoy rejects a listener without filter chains: no own workload port, no inbound listener.
  if (ports.length > 0) {
    const tcp = (port: number): boolean => own.some((e) => e.port === port && !isHttpProtocol(portProtocol(snap, e.hostname, port)));
    listeners.push({
      '@type': TYPE_URL.listener,
      name: LISTENER.virtualInbound,
      address: socketAddress(ip, PORTS.sidecarInbound),
      traffic_direction: 'INBOUND',
      filter_chains: ports.map((port) => (tcp(port) ? inboundTcpChain(port) : inboundChain(port))),
    });
  }
  const tcp = outboundTcpListeners(proxy, snap, capture ? '0.0.0.0' : ip);
  // Capture: the per-port listeners bind nothing; virtualOutbound hands them their connections.
  listeners.push(...(capture ? tcp.map((l): Listener => ({ ...l, bind_to_port: { value: false } })) : tcp));
  return listeners;
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
 *   (proxy ip:15006, one mTLS filter chain per own app port: inline route to `inbound|<port>||`,
 *   or tcp_proxy for a tcp/tls port, generator-tcp-listeners.ts) and one `0.0.0.0_<port>`
 *   tcp_proxy listener per reachable tcp/tls service port. A capture proxy (node metadata
 *   `INTERCEPTION_MODE: REDIRECT`) gets, as in Istio, `virtualOutbound` on 0.0.0.0:15001 with
 *   `use_original_dst` and its `0.0.0.0_<port>` listeners on 0.0.0.0 with `bind_to_port: false`:
 *   a captured connection goes to the listener of its original destination port, any other
 *   (HTTP) to virtualOutbound's own chain, routed by Host.
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
