import test from 'ava';
import type { ListenerConfig } from '../../src/xds/config-types.ts';
import { validateListener } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';
import { httpListener } from './support/fixtures.ts';

const router = { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } };
const hcm = (extra: Record<string, unknown> = {}) => ({
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'in',
    rds: { route_config_name: 'r', config_source: { ads: {} } },
    http_filters: [router],
    ...extra,
  },
});
const listener = (extra: Record<string, unknown>) => ({
  '@type': TYPE_URL.listener,
  name: 'l',
  address: { socket_address: { address: '127.0.0.1', port_value: 15006 } },
  filter_chains: [{ filters: [hcm()] }],
  ...extra,
});
const sni = 'outbound_.9080_._.reviews.default.svc.cluster.local';
const tcpProxy = (fields: Record<string, unknown>) => ({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: 'tcp', ...fields } });

const good: { title: string; resource: object; expected: ListenerConfig }[] = [
  {
    title: 'sidecar outbound listener with RDS',
    resource: httpListener('virtualOutbound', 15001, 'outbound'),
    expected: {
      name: 'virtualOutbound',
      address: { host: '127.0.0.1', port: 15001 },
      direction: 'OUTBOUND',
      tlsInspector: false,
      filterChains: [{ kind: 'http', name: 'filter_chains[0]', serverNames: [], routeConfigName: 'outbound', setXfcc: false, httpFilters: [] }],
    },
  },
  {
    title: 'inbound mTLS chain per port, inline routes, SANITIZE_SET',
    resource: listener({
      name: 'virtualInbound',
      traffic_direction: 'INBOUND',
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TYPED_CONFIG.tlsInspector } }],
      filter_chains: [
        {
          name: 'inbound|9080||',
          filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: 'tls' },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': TYPED_CONFIG.downstreamTls,
              common_tls_context: {
                tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
                validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } },
                alpn_protocols: ['h2'],
              },
              require_client_certificate: { value: true },
            },
          },
          filters: [
            hcm({
              rds: undefined,
              route_config: {
                name: 'inbound|9080||',
                virtual_hosts: [{ name: 'in', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|9080||' } }] }],
              },
              forward_client_cert_details: 'SANITIZE_SET',
              set_current_client_cert_details: { uri: true },
            }),
          ],
        },
      ],
    }),
    expected: {
      name: 'virtualInbound',
      address: { host: '127.0.0.1', port: 15006 },
      direction: 'INBOUND',
      tlsInspector: true,
      filterChains: [
        {
          kind: 'http',
          name: 'inbound|9080||',
          serverNames: [],
          destinationPort: 9080,
          transportProtocol: 'tls',
          routes: {
            name: 'inbound|9080||',
            virtualHosts: [
              { name: 'in', domains: ['*'], routes: [{ name: '0', match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [] }, clusters: [{ name: 'inbound|9080||', weight: 1 }], mirrors: [], perFilter: {} }] },
            ],
          },
          tls: { requireClientCertificate: true, alpn: ['h2'] },
          setXfcc: true,
          httpFilters: [],
        },
      ],
    },
  },
  {
    title: 'east-west gateway SNI passthrough chain',
    resource: listener({
      name: 'eastwestgateway_15443',
      address: { socket_address: { address: '0.0.0.0', port_value: 15443 } },
      listener_filters: [{ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TYPED_CONFIG.tlsInspector } }],
      filter_chains: [
        {
          filter_chain_match: { server_names: [sni.toUpperCase()] },
          filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: 'sni', cluster: `outbound|9080||reviews.default.svc.cluster.local` } }],
        },
      ],
    }),
    expected: {
      name: 'eastwestgateway_15443',
      address: { host: '0.0.0.0', port: 15443 },
      tlsInspector: true,
      filterChains: [
        {
          kind: 'tcp',
          name: 'filter_chains[0]',
          serverNames: [sni],
          applicationProtocols: [],
          statPrefix: 'sni',
          clusters: [{ name: 'outbound|9080||reviews.default.svc.cluster.local', weight: 1 }],
          weighted: false,
          idleTimeoutMs: 3_600_000,
        },
      ],
    },
  },
  {
    title: 'sidecar outbound tcp listener: weighted clusters, idle timeout, inbound-style ALPN match',
    resource: listener({
      name: '0.0.0.0_9000',
      address: { socket_address: { address: '127.0.0.1', port_value: 9000 } },
      filter_chains: [
        {
          filter_chain_match: { application_protocols: ['istio-peer-exchange', 'istio'] },
          filters: [tcpProxy({ weighted_clusters: { clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }] }, idle_timeout: { seconds: 2, nanos: 500_000_000 } })],
        },
      ],
    }),
    expected: {
      name: '0.0.0.0_9000',
      address: { host: '127.0.0.1', port: 9000 },
      tlsInspector: false,
      filterChains: [
        {
          kind: 'tcp',
          name: 'filter_chains[0]',
          serverNames: [],
          applicationProtocols: ['istio-peer-exchange', 'istio'],
          statPrefix: 'tcp',
          clusters: [
            { name: 'a', weight: 80 },
            { name: 'b', weight: 20 },
          ],
          weighted: true,
          idleTimeoutMs: 2500,
        },
      ],
    },
  },
  {
    title: 'proxyless api_listener',
    resource: {
      '@type': TYPE_URL.listener,
      name: 'echo.default.svc.cluster.local:7070',
      api_listener: { api_listener: hcm().typed_config },
    },
    expected: {
      name: 'echo.default.svc.cluster.local:7070',
      tlsInspector: false,
      filterChains: [{ kind: 'http', name: 'api_listener', serverNames: [], routeConfigName: 'r', setXfcc: false, httpFilters: [] }],
    },
  },
];

for (const row of good) {
  test(`valid listener: ${row.title}`, (t) => {
    const r = validateListener(decoded(row.resource));
    t.deepEqual(r, { ok: true, value: row.expected });
  });
}

const inline = { route_config: { name: 'in', virtual_hosts: [{ name: 'in', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'inbound|9080||' } }] }] } };
const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'client cert details other than URI (meshfed sets By, Hash and URI)',
    resource: listener({ filter_chains: [{ filters: [hcm({ forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { uri: true, subject: { value: true } } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.set_current_client_cert_details.subject: not supported: meshfed sets By, Hash and URI only',
  },
  {
    title: 'client cert details without URI',
    resource: listener({ filter_chains: [{ filters: [hcm({ forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { dns: false } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.set_current_client_cert_details.uri: must be true: the XFCC element meshfed sets always carries URI',
  },
  {
    title: 'client cert details without SANITIZE_SET',
    resource: listener({ filter_chains: [{ filters: [hcm({ set_current_client_cert_details: { uri: true } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.set_current_client_cert_details: only meaningful with forward_client_cert_details SANITIZE_SET',
  },
  {
    title: 'a hash policy on an inline (inbound) route',
    resource: listener({
      filter_chains: [
        {
          filters: [
            hcm({
              rds: undefined,
              route_config: {
                name: 'in',
                virtual_hosts: [{ name: 'in', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ header: { header_name: 'x' } }] } }] }],
              },
            }),
          ],
        },
      ],
    }),
    error: 'filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]: route.hash_policy is not supported on an inline (inbound) route table',
  },
  {
    title: 'RDS without a route config name',
    resource: listener({ filter_chains: [{ filters: [hcm({ rds: { config_source: { ads: {} } } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.rds.route_config_name: missing',
  },
  {
    title: 'RDS not over ADS',
    resource: listener({ filter_chains: [{ filters: [hcm({ rds: { route_config_name: 'r', config_source: { self: {} } } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.rds.config_source: only { ads: {} } is supported',
  },
  {
    title: 'unknown network filter',
    resource: listener({ filter_chains: [{ filters: [{ name: 'x', typed_config: { '@type': TYPED_CONFIG.router } }] }] }),
    error: `filter_chains[0].filters[0].typed_config: unsupported network filter "${TYPED_CONFIG.router}"`,
  },
  {
    title: 'two network filters',
    resource: listener({ filter_chains: [{ filters: [hcm(), hcm()] }] }),
    error: 'filter_chains[0].filters: exactly one network filter is supported (after any network RBAC filters), found 2',
  },
  {
    title: 'an http filter other than the router',
    resource: listener({ filter_chains: [{ filters: [hcm({ http_filters: [{ name: 'x', typed_config: { '@type': TYPED_CONFIG.tlsInspector } }, router] })] }] }),
    error: `filter_chains[0].filters[0].typed_config.http_filters[0]: unsupported http filter "${TYPED_CONFIG.tlsInspector}"`,
  },
  {
    title: 'router not last',
    resource: listener({ filter_chains: [{ filters: [hcm({ http_filters: [router, router] })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.http_filters[0]: router filter must be last',
  },
  {
    title: 'no http filters',
    resource: listener({ filter_chains: [{ filters: [hcm({ http_filters: [] })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.http_filters: missing router filter',
  },
  {
    title: 'unsupported XFCC mode',
    resource: listener({ filter_chains: [{ filters: [hcm({ forward_client_cert_details: 'APPEND_FORWARD' })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.forward_client_cert_details: unsupported value "APPEND_FORWARD"',
  },
  {
    title: 'no address on a socket listener',
    resource: listener({ address: undefined }),
    error: 'address: missing',
  },
  {
    title: 'no filter chains',
    resource: listener({ filter_chains: [] }),
    error: 'filter_chains: empty',
  },
  {
    title: 'unknown listener filter',
    resource: listener({ listener_filters: [{ name: 'x', typed_config: { '@type': TYPED_CONFIG.router } }] }),
    error: `listener_filters[0]: unsupported listener filter "${TYPED_CONFIG.router}"`,
  },
  {
    title: 'unsupported filter chain match',
    resource: listener({ filter_chains: [{ filter_chain_match: { source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: { value: 8 } }] }, filters: [hcm()] }] }),
    error: 'filter_chains[0].filter_chain_match.source_prefix_ranges: unsupported field',
  },
  {
    title: 'tcp proxy without cluster',
    resource: listener({ filter_chains: [{ filters: [{ name: 't', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: 's' } }] }] }),
    error: 'filter_chains[0].filters[0].typed_config.cluster: missing (or weighted_clusters)',
  },
  {
    title: 'tcp proxy field meshfed does not honour (max_connect_attempts)',
    resource: listener({ filter_chains: [{ filters: [tcpProxy({ cluster: 'c', max_connect_attempts: { value: 3 } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.max_connect_attempts: unsupported field',
  },
  {
    title: 'tcp proxy with cluster and weighted_clusters',
    resource: listener({ filter_chains: [{ filters: [tcpProxy({ cluster: 'c', weighted_clusters: { clusters: [{ name: 'a', weight: 1 }] } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config: cluster and weighted_clusters are exclusive',
  },
  {
    title: 'tcp proxy weighted cluster of weight 0',
    resource: listener({ filter_chains: [{ filters: [tcpProxy({ weighted_clusters: { clusters: [{ name: 'a', weight: 0 }] } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[0].weight: must be an integer in [1, 4294967295]',
  },
  {
    title: 'tcp proxy without stat_prefix',
    resource: listener({ filter_chains: [{ filters: [{ name: 't', typed_config: { '@type': TYPED_CONFIG.tcpProxy, cluster: 'c' } }] }] }),
    error: 'filter_chains[0].filters[0].typed_config.stat_prefix: missing',
  },
  {
    title: 'the east-west gateway refuses weighted_clusters (one cluster per SNI)',
    resource: listener({
      name: 'eastwestgateway_15443',
      filter_chains: [{ filter_chain_match: { server_names: [sni] }, filters: [tcpProxy({ weighted_clusters: { clusters: [{ name: 'a', weight: 80 }, { name: 'b', weight: 20 }] } })] }],
    }),
    error: 'filter_chains[0].filters[0].typed_config.weighted_clusters: not honoured by the east-west gateway (one cluster per SNI)',
  },
  {
    title: 'the east-west gateway refuses an idle_timeout',
    resource: listener({ name: 'eastwestgateway_15443', filter_chains: [{ filters: [tcpProxy({ cluster: 'c', idle_timeout: { seconds: 5 } })] }] }),
    error: 'filter_chains[0].filters[0].typed_config.idle_timeout: not honoured by the east-west gateway',
  },
  {
    title: 'the east-west gateway refuses application_protocols',
    resource: listener({ name: 'eastwestgateway_15443', filter_chains: [{ filter_chain_match: { application_protocols: ['istio'] }, filters: [tcpProxy({ cluster: 'c' })] }] }),
    error: 'filter_chains[0].filter_chain_match.application_protocols: not honoured by the east-west gateway',
  },
  {
    title: 'upstream TLS context on a listener',
    resource: listener({
      filter_chains: [{ filters: [hcm()], transport_socket: { name: 'tls', typed_config: { '@type': TYPED_CONFIG.upstreamTls, sni: 'x' } } }],
    }),
    error: `filter_chains[0].transport_socket.typed_config: unsupported transport socket "${TYPED_CONFIG.upstreamTls}"`,
  },
  {
    title: 'listener without name',
    resource: listener({ name: undefined }),
    error: 'name: missing',
  },
  {
    title: 'transport_protocol on a listener other than virtualInbound',
    resource: listener({ filter_chains: [{ filter_chain_match: { transport_protocol: 'raw_buffer' }, filters: [tcpProxy({ cluster: 'c' })] }] }),
    error: 'filter_chains[0].filter_chain_match.transport_protocol: not honoured on listener l (only virtualInbound)',
  },
  {
    title: 'transport_protocol raw_buffer on an HTTP chain with a TLS transport socket',
    resource: listener({
      name: 'virtualInbound',
      filter_chains: [
        {
          filter_chain_match: { transport_protocol: 'raw_buffer' },
          transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TYPED_CONFIG.downstreamTls, common_tls_context: {} } },
          filters: [hcm()],
        },
      ],
    }),
    error: 'filter_chains[0].filter_chain_match.transport_protocol: raw_buffer (plaintext) cannot go with a TLS transport_socket',
  },
  {
    title: 'transport_protocol tls without a TLS transport socket',
    resource: listener({ name: 'virtualInbound', filter_chains: [{ filter_chain_match: { transport_protocol: 'tls' }, filters: [tcpProxy({ cluster: 'c' })] }] }),
    error: 'filter_chains[0].filter_chain_match.transport_protocol: tls needs a TLS transport_socket (the chain would not terminate it)',
  },
  {
    title: 'transport_protocol quic',
    resource: listener({ name: 'virtualInbound', filter_chains: [{ filter_chain_match: { transport_protocol: 'quic' }, filters: [tcpProxy({ cluster: 'c' })] }] }),
    error: 'filter_chains[0].filter_chain_match.transport_protocol: unsupported value "quic"',
  },
];

for (const row of bad) {
  test(`invalid listener: ${row.title}`, (t) => {
    const r = validateListener(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}

test('a non-object is rejected, not thrown on', (t) => {
  t.deepEqual(validateListener(null), { ok: false, errors: ['listener: not an object'] });
});

/** An HTTP chain of a capture proxy's virtualOutbound for one original destination port. */
const portChain = (port: number) => ({ name: `virtualOutbound_${port}`, filter_chain_match: { destination_port: { value: port } }, filters: [hcm()] });
const captureOutbound = (chains: object[]) =>
  listener({ name: 'virtualOutbound', address: { socket_address: { address: '0.0.0.0', port_value: 15001 } }, use_original_dst: { value: true }, filter_chains: chains });

/** Transparent-capture fields: honoured where meshfed acts on them, refused with their path elsewhere. */
const captureRows: { title: string; resource: object; errors?: RegExp; check?: (l: ListenerConfig) => boolean }[] = [
  {
    title: 'use_original_dst on virtualOutbound is honoured',
    resource: listener({ name: 'virtualOutbound', use_original_dst: { value: true } }),
    check: (l) => l.useOriginalDst === true,
  },
  {
    title: 'use_original_dst false is the default',
    resource: listener({ name: 'virtualOutbound', use_original_dst: { value: false } }),
    check: (l) => l.useOriginalDst === undefined,
  },
  { title: 'use_original_dst on another listener is refused', resource: listener({ name: 'virtualInbound', use_original_dst: { value: true } }), errors: /^use_original_dst: honoured only on virtualOutbound$/ },
  {
    title: 'bind_to_port false on a tcp_proxy listener is honoured',
    resource: listener({ name: '0.0.0.0_9000', filter_chains: [{ filters: [tcpProxy({ cluster: 'outbound|9000||db.default.svc.cluster.local' })] }], bind_to_port: { value: false } }),
    check: (l) => l.bindToPort === false,
  },
  { title: 'bind_to_port false on an HTTP listener is refused', resource: listener({ name: 'l', bind_to_port: { value: false } }), errors: /^bind_to_port: false is honoured only on a sidecar's outbound tcp_proxy listener/ },
  {
    title: 'bind_to_port false on virtualOutbound is refused',
    resource: listener({ name: 'virtualOutbound', filter_chains: [{ filters: [tcpProxy({ cluster: 'c' })] }], bind_to_port: { value: false } }),
    errors: /^bind_to_port: false is honoured only/,
  },
  { title: 'bind_to_port true is the default', resource: listener({ name: 'l', bind_to_port: { value: true } }), check: (l) => l.bindToPort === undefined },
  {
    title: 'capture virtualOutbound: HTTP chains by destination_port and a default tcp_proxy chain (PassthroughFilterChain)',
    resource: captureOutbound([portChain(15001), portChain(9080), { name: 'PassthroughFilterChain', filters: [tcpProxy({ stat_prefix: 'PassthroughCluster', cluster: 'PassthroughCluster' })] }]),
    check: (l) =>
      JSON.stringify(l.filterChains.map((c) => [c.kind, c.destinationPort ?? null])) === JSON.stringify([['http', 15001], ['http', 9080], ['tcp', null]]) &&
      l.filterChains[2]?.kind === 'tcp' &&
      l.filterChains[2].clusters[0]?.name === 'PassthroughCluster',
  },
  {
    title: 'a tcp_proxy chain on virtualOutbound without use_original_dst is refused',
    resource: listener({ name: 'virtualOutbound', filter_chains: [{ filters: [hcm()] }, { filter_chain_match: { destination_port: { value: 7000 } }, filters: [tcpProxy({ cluster: 'c' })] }] }),
    errors: /^filter_chains\[1\]\.filters\[0\]: a tcp_proxy chain is honoured only with use_original_dst \(capture\)$/,
  },
  {
    title: 'destination_port on virtualOutbound without use_original_dst is refused',
    resource: listener({ name: 'virtualOutbound', filter_chains: [portChain(9080)] }),
    errors: /^filter_chains\[0\]\.filter_chain_match\.destination_port: honoured only with use_original_dst \(capture\)$/,
  },
  {
    title: 'two HTTP chains on virtualOutbound without use_original_dst are refused',
    resource: listener({ name: 'virtualOutbound', filter_chains: [{ filters: [hcm()] }, { filter_chain_match: { server_names: ['a.example'] }, filters: [hcm()] }], listener_filters: [{ name: 'tls', typed_config: { '@type': TYPED_CONFIG.tlsInspector } }] }),
    errors: /^filter_chains\[1\]: only one HTTP chain is honoured without use_original_dst$/,
  },
  {
    title: 'capture virtualOutbound: an HTTP default chain (no match) is honoured, as before PassthroughCluster',
    resource: captureOutbound([{ filters: [hcm()] }]),
    check: (l) => l.filterChains.length === 1 && l.filterChains[0]?.kind === 'http' && l.filterChains[0].destinationPort === undefined,
  },
  {
    title: 'capture virtualOutbound: HTTP chains with different connection managers are refused',
    resource: captureOutbound([portChain(15001), { filter_chain_match: { destination_port: { value: 9080 } }, filters: [hcm({ stat_prefix: 'other' })] }]),
    errors: /^filter_chains\[1\]\.filters: must equal filter_chains\[0\]\.filters/,
  },
  {
    title: 'capture virtualOutbound: two default chains are refused (same match)',
    resource: captureOutbound([portChain(15001), { filters: [tcpProxy({ cluster: 'PassthroughCluster' })] }, { filters: [tcpProxy({ cluster: 'BlackHoleCluster' })] }]),
    errors: /^filter_chains\[2\]: same match as filter_chains\[1\]$/,
  },
  {
    title: 'capture virtualOutbound: TLS termination is refused',
    resource: captureOutbound([{ ...portChain(15001), transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TYPED_CONFIG.downstreamTls, common_tls_context: {} } } }]),
    errors: /^filter_chains\[0\]\.transport_socket: not honoured on virtualOutbound \(apps send plaintext\)$/,
  },
  {
    title: 'capture virtualOutbound: application_protocols are refused',
    resource: captureOutbound([{ filter_chain_match: { destination_port: { value: 15001 }, application_protocols: ['http/1.1'] }, filters: [hcm()] }]),
    errors: /^filter_chains\[0\]\.filter_chain_match\.application_protocols: not honoured on virtualOutbound$/,
  },
];

for (const row of captureRows) {
  test(`listener capture fields: ${row.title}`, (t) => {
    const r = validateListener(decoded(row.resource));
    if (row.errors) {
      if (r.ok) return t.fail('accepted');
      return t.true(r.errors.some((e) => row.errors?.test(e) === true), r.errors.join('\n'));
    }
    if (!r.ok) return t.fail(r.errors.join('\n'));
    t.true(row.check?.(r.value) ?? false);
  });
}

test('an inline (inbound) route table runs HTTP filters before the router (RBAC)', (t) => {
  const rbac = { name: 'envoy.filters.http.rbac', typed_config: { '@type': TYPED_CONFIG.rbac, rules: { action: 'DENY', policies: {} } } };
  const r = validateListener(decoded(listener({ filter_chains: [{ filters: [hcm({ rds: undefined, ...inline, http_filters: [rbac, router] })] }] })));
  t.true(r.ok, r.ok ? '' : r.errors.join('\n'));
  if (r.ok) {
    const chain = r.value.filterChains[0];
    t.deepEqual(chain?.kind === 'http' ? chain.httpFilters.map((f) => [f.typeUrl, f.rbac?.rules?.action]) : [], [[TYPED_CONFIG.rbac, 'DENY']]);
  }
});
