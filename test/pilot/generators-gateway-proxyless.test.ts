import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { endpointIdOf } from '../../src/xds/naming.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { clustersOf, endpointRows, endpointsOf, listenersOf, richSnapshot, routesOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

const router = proxyNode('router', { ip: '127.0.2.1', workload: 'eastwestgateway', namespace: 'istio-system' });
const proxyless = proxyNode('proxyless');
const REVIEWS = 'reviews.default.svc.cluster.local';
/** endpointIdOf('east', 'default', 'reviews-v1'): the one local reviews endpoint's qualified SNIs sort first. */
const V1 = endpointIdOf('east', 'default', 'reviews-v1');
const REVIEWS_SNIS = [
  `ep_.${V1}_.outbound_.9080_._.${REVIEWS}`,
  `ep_.${V1}_.outbound_.9080_.v1_.${REVIEWS}`,
  `outbound_.9080_._.${REVIEWS}`,
  `outbound_.9080_.v1_.${REVIEWS}`,
  `outbound_.9080_.v2_.${REVIEWS}`,
  `outbound_.9080_.west_.${REVIEWS}`,
];

test('router LDS: one passthrough chain per exported SNI only', (t) => {
  const listeners = listenersOf(router, richSnapshot());
  t.deepEqual([...listeners.keys()], ['eastwestgateway_15443']);
  const l = listeners.get('eastwestgateway_15443');
  t.deepEqual(l?.address, { socket_address: { address: '127.0.2.1', port_value: 15443 } });
  t.deepEqual(l?.listener_filters, [
    {
      name: 'envoy.filters.listener.tls_inspector',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' },
    },
  ]);
  // details is exported but has no sidecar; productpage has no ServiceExport; ratings is remote.
  t.deepEqual(l?.filter_chains?.map((c) => c.filter_chain_match?.server_names), REVIEWS_SNIS.map((s) => [s]));
  t.deepEqual(l?.filter_chains?.[0]?.filters, [
    {
      name: 'envoy.filters.network.tcp_proxy',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
        stat_prefix: REVIEWS_SNIS[0],
        cluster: REVIEWS_SNIS[0],
      },
    },
  ]);
  t.is(l?.filter_chains?.[0]?.transport_socket, undefined, 'the gateway never terminates TLS');
});

test('router CDS/EDS: a plaintext cluster per SNI with local sidecar endpoints only', (t) => {
  const snap = richSnapshot();
  const clusters = clustersOf(router, snap);
  t.deepEqual([...clusters.keys()], REVIEWS_SNIS);
  t.true([...clusters.values()].every((c) => c.type === 'EDS' && c.transport_socket === undefined && c.lb_policy === 'LEAST_REQUEST'));
  const eds = endpointsOf(router, snap);
  t.deepEqual([...eds.keys()], REVIEWS_SNIS);
  const local = [
    ['east', 1, '127.0.1.2:9080', 1, 'HEALTHY', {
      istio: { tlsMode: 'istio', cluster_id: 'east' },
      meshfed: { inbound_port: 15006, workload: 'reviews-v1', namespace: 'default' },
    }],
  ];
  t.deepEqual(endpointRows(eds.get(`outbound_.9080_._.${REVIEWS}`)), local);
  t.deepEqual(endpointRows(eds.get(`outbound_.9080_.v1_.${REVIEWS}`)), local);
  t.deepEqual(endpointRows(eds.get(`ep_.${V1}_.outbound_.9080_._.${REVIEWS}`)), local, 'an endpoint-qualified SNI holds just its endpoint');
  t.deepEqual(endpointRows(eds.get(`outbound_.9080_.v2_.${REVIEWS}`)), [], 'remote v2 is never served by this gateway');
  t.deepEqual(generate(router, TYPE_URL.route, snap), []);
});

test('router without any ServiceExport serves nothing', (t) => {
  const snap = new SnapshotBuilder({ gatewayAddress: '127.0.2.1' }).workload('reviews-v1', 'reviews', 9080).build();
  // Envoy (and meshfed's validator) reject a listener without filter chains: none is sent.
  t.deepEqual(generate(router, TYPE_URL.listener, snap), []);
  t.deepEqual(generate(router, TYPE_URL.cluster, snap), []);
  t.deepEqual(generate(router, TYPE_URL.endpoint, snap), []);
});

test('proxyless LDS: api listeners named host:port, and host for single-port services', (t) => {
  const listeners = listenersOf(proxyless, richSnapshot());
  t.deepEqual([...listeners.keys()], [
    'details.default.svc.cluster.local',
    'details.default.svc.cluster.local:9080',
    'echo.default.svc.cluster.local:50051',
    'echo.default.svc.cluster.local:50052',
    'productpage.default.svc.cluster.local',
    'productpage.default.svc.cluster.local:9080',
    'ratings.default.svc.cluster.local',
    'ratings.default.svc.cluster.local:9080',
    REVIEWS,
    `${REVIEWS}:9080`,
  ]);
  t.deepEqual(listeners.get(REVIEWS), {
    '@type': TYPE_URL.listener,
    name: REVIEWS,
    api_listener: {
      api_listener: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        stat_prefix: REVIEWS,
        codec_type: 'AUTO',
        rds: { route_config_name: `${REVIEWS}:9080`, config_source: { ads: {} } },
        http_filters: [
          { name: 'envoy.filters.http.fault', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' } },
          { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
        ],
      },
    },
  });
  t.is(listeners.get(REVIEWS)?.address, undefined);
});

test('proxyless RDS/CDS/EDS: route configs per host:port, plaintext clusters, local endpoints dialled directly', (t) => {
  const snap = richSnapshot();
  const rc = routesOf(proxyless, snap).get('echo.default.svc.cluster.local:50052');
  t.deepEqual(rc?.virtual_hosts, [
    {
      name: 'echo.default.svc.cluster.local:50052',
      domains: ['*'],
      routes: [
        {
          name: 'default',
          match: { prefix: '/' },
          route: {
            cluster: 'outbound|50052||echo.default.svc.cluster.local',
            retry_policy: {
              retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
              num_retries: { value: 2 },
              retriable_status_codes: [503],
              retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPED_CONFIG.previousHosts } }],
              host_selection_retry_max_attempts: '5',
            },
          },
        },
      ],
    },
  ]);
  t.is(routesOf(proxyless, snap).get(`${REVIEWS}:9080`)?.virtual_hosts[0]?.routes.length, 3);
  const clusters = clustersOf(proxyless, snap);
  t.true(clusters.has(`outbound|9080|v2|${REVIEWS}`));
  t.false([...clusters.keys()].some((n) => n.startsWith('inbound')));
  t.true([...clusters.values()].every((c) => c.transport_socket === undefined && c.lb_policy === 'ROUND_ROBIN'));
  t.deepEqual(endpointRows(endpointsOf(proxyless, snap).get(`outbound|9080||${REVIEWS}`)), [
    ['east', 1, '127.0.1.2:9080', 1, 'HEALTHY', {
      istio: { tlsMode: 'disabled', cluster_id: 'east' },
      meshfed: { workload: 'reviews-v1', namespace: 'default' },
    }],
  ]);
});
