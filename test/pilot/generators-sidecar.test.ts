import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { clustersOf, endpointRows, endpointsOf, listenersOf, richSnapshot, routesOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

const sidecar = proxyNode('sidecar');
const REVIEWS = 'reviews.default.svc.cluster.local';

test('CDS: outbound cluster per service port and subset, plus the own inbound cluster', (t) => {
  const clusters = clustersOf(sidecar, richSnapshot());
  t.deepEqual(
    [...clusters.values()].map((c) => [c.name, c.type, c.lb_policy, c.transport_socket?.typed_config.sni ?? 'plaintext']),
    [
      ['outbound|9080||details.default.svc.cluster.local', 'EDS', 'ROUND_ROBIN', 'plaintext'],
      ['outbound|50051||echo.default.svc.cluster.local', 'EDS', 'ROUND_ROBIN', 'plaintext'],
      ['outbound|50052||echo.default.svc.cluster.local', 'EDS', 'ROUND_ROBIN', 'plaintext'],
      ['outbound|9080||productpage.default.svc.cluster.local', 'EDS', 'ROUND_ROBIN', 'outbound_.9080_._.productpage.default.svc.cluster.local'],
      ['outbound|9080||ratings.default.svc.cluster.local', 'EDS', 'ROUND_ROBIN', 'outbound_.9080_._.ratings.default.svc.cluster.local'],
      [`outbound|9080||${REVIEWS}`, 'EDS', 'LEAST_REQUEST', `outbound_.9080_._.${REVIEWS}`],
      [`outbound|9080|v1|${REVIEWS}`, 'EDS', 'LEAST_REQUEST', `outbound_.9080_.v1_.${REVIEWS}`],
      [`outbound|9080|v2|${REVIEWS}`, 'EDS', 'LEAST_REQUEST', `outbound_.9080_.v2_.${REVIEWS}`],
      [`outbound|9080|west|${REVIEWS}`, 'EDS', 'LEAST_REQUEST', `outbound_.9080_.west_.${REVIEWS}`],
      ['inbound|9080||', 'STATIC', 'ROUND_ROBIN', 'plaintext'],
    ],
  );
});

test('CDS: EDS cluster shape and mTLS transport socket', (t) => {
  const c = clustersOf(sidecar, richSnapshot()).get(`outbound|9080|v1|${REVIEWS}`);
  t.deepEqual(c, {
    '@type': TYPE_URL.cluster,
    name: `outbound|9080|v1|${REVIEWS}`,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, service_name: `outbound|9080|v1|${REVIEWS}` },
    connect_timeout: { seconds: '10' },
    lb_policy: 'LEAST_REQUEST',
    circuit_breakers: {
      thresholds: [
        { max_connections: { value: 4294967295 }, max_pending_requests: { value: 4294967295 }, max_requests: { value: 4294967295 }, max_retries: { value: 4294967295 } },
      ],
    },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        common_tls_context: {
          tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
          // Istio's ISTIO_MUTUAL shape: the roots over SDS plus the SPIFFE IDs the service's endpoints run as.
          combined_validation_context: {
            default_validation_context: { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/default/sa/reviews' } }] },
            validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } },
          },
          alpn_protocols: ['h2'],
        },
        sni: `outbound_.9080_.v1_.${REVIEWS}`,
      },
    },
  });
});

test('CDS: inbound cluster points at the proxy workload', (t) => {
  const c = clustersOf(proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2' }), richSnapshot()).get('inbound|9080||');
  t.deepEqual(c?.load_assignment, {
    cluster_name: 'inbound|9080||',
    endpoints: [
      {
        locality: { zone: 'east' },
        lb_endpoints: [
          {
            endpoint: { address: { socket_address: { address: '127.0.1.2', port_value: 9080 } } },
            health_status: 'HEALTHY',
            load_balancing_weight: { value: 1 },
          },
        ],
        load_balancing_weight: { value: 1 },
      },
    ],
  });
  t.false(clustersOf(proxyNode('sidecar', { workload: 'stranger' }), richSnapshot()).has('inbound|9080||'));
});

const edsCases: { cluster: string; rows: ReturnType<typeof endpointRows> }[] = [
  {
    cluster: `outbound|9080||${REVIEWS}`,
    rows: [
      ['east', 1, '127.0.1.2:9080', 1, 'HEALTHY', {
        istio: { tlsMode: 'istio', cluster_id: 'east' },
        meshfed: { inbound_port: 15006, workload: 'reviews-v1', namespace: 'default' },
      }],
      ['west', 3, '10.1.0.1:15443', 3, 'HEALTHY', { istio: { tlsMode: 'istio', cluster_id: 'west' } }],
    ],
  },
  {
    cluster: `outbound|9080|v1|${REVIEWS}`,
    rows: [
      ['east', 1, '127.0.1.2:9080', 1, 'HEALTHY', {
        istio: { tlsMode: 'istio', cluster_id: 'east' },
        meshfed: { inbound_port: 15006, workload: 'reviews-v1', namespace: 'default' },
      }],
    ],
  },
  {
    cluster: `outbound|9080|v2|${REVIEWS}`,
    rows: [['west', 2, '10.1.0.1:15443', 2, 'HEALTHY', { istio: { tlsMode: 'istio', cluster_id: 'west' } }]],
  },
  {
    cluster: `outbound|9080|west|${REVIEWS}`,
    rows: [['west', 3, '10.1.0.1:15443', 3, 'HEALTHY', { istio: { tlsMode: 'istio', cluster_id: 'west' } }]],
  },
  {
    cluster: 'outbound|9080||details.default.svc.cluster.local',
    rows: [['east', 1, '127.0.1.3:9080', 1, 'HEALTHY', {
      istio: { tlsMode: 'disabled', cluster_id: 'east' },
      meshfed: { workload: 'details-v1', namespace: 'default' },
    }]],
  },
  {
    cluster: 'outbound|50052||echo.default.svc.cluster.local',
    rows: [['east', 1, '127.0.1.5:50052', 1, 'HEALTHY', {
      istio: { tlsMode: 'disabled', cluster_id: 'east' },
      meshfed: { workload: 'echo-b', namespace: 'default' },
    }]],
  },
];
for (const c of edsCases) {
  test(`EDS: ${c.cluster}`, (t) => {
    t.deepEqual(endpointRows(endpointsOf(sidecar, richSnapshot()).get(c.cluster)), c.rows);
  });
}

test('EDS: one assignment per EDS cluster, same names as CDS', (t) => {
  const snap = richSnapshot();
  const eds = [...clustersOf(sidecar, snap).values()].filter((c) => c.type === 'EDS').map((c) => c.name);
  t.deepEqual([...endpointsOf(sidecar, snap).keys()], eds);
});

test('EDS: remote endpoints behind two gateways of one cluster make two weighted endpoints', (t) => {
  const snap = new SnapshotBuilder()
    .imported('west', '10.1.0.2', 'a', 'ratings', 9080)
    .imported('west', '10.1.0.1', 'b', 'ratings', 9080)
    .imported('west', '10.1.0.1', 'c', 'ratings', 9080)
    .imported('north', '10.2.0.1', 'd', 'ratings', 9080)
    .build();
  t.deepEqual(
    endpointRows(endpointsOf(sidecar, snap).get('outbound|9080||ratings.default.svc.cluster.local')).map((r) => r.slice(0, 4)),
    [
      ['north', 1, '10.2.0.1:15443', 1],
      ['west', 3, '10.1.0.1:15443', 2],
      ['west', 3, '10.1.0.2:15443', 1],
    ],
  );
});

test('LDS: virtualOutbound uses RDS outbound over ADS, router last', (t) => {
  const l = listenersOf(sidecar, richSnapshot()).get('virtualOutbound');
  t.deepEqual(l?.address, { socket_address: { address: '127.0.1.1', port_value: 15001 } });
  t.is(l?.traffic_direction, 'OUTBOUND');
  t.is(l?.filter_chains?.length, 1);
  const hcm = l?.filter_chains?.[0]?.filters[0];
  t.is(hcm?.name, 'envoy.filters.network.http_connection_manager');
  if (hcm?.name !== 'envoy.filters.network.http_connection_manager') return;
  t.deepEqual(hcm.typed_config.rds, { route_config_name: 'outbound', config_source: { ads: {} } });
  t.is(hcm.typed_config.codec_type, 'AUTO');
  t.is(hcm.typed_config.http_filters.at(-1)?.name, 'envoy.filters.http.router');
});

test('LDS: virtualInbound has an mTLS chain and its plaintext twin per own port (PERMISSIVE by default), routing to the inbound cluster', (t) => {
  const l = listenersOf(proxyNode('sidecar', { workload: 'echo-a', ip: '127.0.1.4' }), richSnapshot()).get('virtualInbound');
  t.deepEqual(l?.address, { socket_address: { address: '127.0.1.4', port_value: 15006 } });
  t.is(l?.traffic_direction, 'INBOUND');
  const chain = l?.filter_chains?.[0];
  t.deepEqual(l?.filter_chains?.map((c) => [c.name, c.filter_chain_match?.transport_protocol, c.transport_socket !== undefined]), [
    ['inbound|50051||', 'tls', true],
    ['inbound|50051||-plaintext', 'raw_buffer', false],
  ]);
  t.deepEqual(chain?.filter_chain_match, { destination_port: { value: 50051 }, transport_protocol: 'tls' });
  t.deepEqual(chain?.transport_socket?.typed_config.require_client_certificate, { value: true });
  t.deepEqual(chain?.transport_socket?.typed_config.common_tls_context.alpn_protocols, ['h2']);
  const f = chain?.filters[0];
  if (f?.name !== 'envoy.filters.network.http_connection_manager') {
    t.fail('expected an HCM');
    return;
  }
  t.is(f.typed_config.forward_client_cert_details, 'SANITIZE_SET');
  t.deepEqual(f.typed_config.set_current_client_cert_details, { uri: true });
  // The workload's own hosts only; any other :authority gets 421 (case 17).
  t.deepEqual(f.typed_config.route_config?.virtual_hosts, [
    {
      name: 'inbound|http|50051',
      domains: [
        '127.0.1.4', '127.0.1.4:50051',
        'echo', 'echo.default', 'echo.default.svc', 'echo.default.svc.cluster.local', 'echo.default.svc.cluster.local:50051',
        'echo.default.svc:50051', 'echo.default:50051', 'echo:50051',
        'localhost', 'localhost:50051',
      ],
      routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'inbound|50051||' } }],
    },
    {
      name: 'inbound|misdirected',
      domains: ['*'],
      routes: [{ name: 'misdirected', match: { prefix: '/' }, direct_response: { status: 421, body: { inline_string: 'misdirected request: this workload does not serve that host on port 50051' } } }],
    },
  ]);
});

test('RDS: virtual host per service port with Istio short-name domains', (t) => {
  const rc = routesOf(sidecar, richSnapshot()).get('outbound');
  t.deepEqual(
    rc?.virtual_hosts.map((v) => v.name),
    [
      'details.default.svc.cluster.local:9080',
      'echo.default.svc.cluster.local:50051',
      'echo.default.svc.cluster.local:50052',
      'productpage.default.svc.cluster.local:9080',
      'ratings.default.svc.cluster.local:9080',
      `${REVIEWS}:9080`,
    ],
  );
  const echo = rc?.virtual_hosts.filter((v) => v.name.startsWith('echo')).map((v) => v.domains);
  t.deepEqual(echo, [
    [
      'echo.default.svc.cluster.local', 'echo.default.svc.cluster.local:50051',
      'echo.default.svc', 'echo.default.svc:50051',
      'echo.default', 'echo.default:50051',
      'echo', 'echo:50051',
    ],
    ['echo.default.svc.cluster.local:50052', 'echo.default.svc:50052', 'echo.default:50052', 'echo:50052'],
  ]);
  const all = rc?.virtual_hosts.flatMap((v) => v.domains) ?? [];
  t.is(new Set(all).size, all.length, 'no domain appears twice');
  const other = routesOf(proxyNode('sidecar', { namespace: 'shop' }), richSnapshot()).get('outbound');
  t.deepEqual(other?.virtual_hosts.find((v) => v.name.startsWith('ratings'))?.domains, [
    'ratings.default.svc.cluster.local', 'ratings.default.svc.cluster.local:9080',
    'ratings.default.svc', 'ratings.default.svc:9080',
    'ratings.default', 'ratings.default:9080',
  ]);
});

/** Istio's retry policy on every rule without `retries`. */
const RETRY = {
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  num_retries: { value: 2 },
  retriable_status_codes: [503],
  retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPED_CONFIG.previousHosts } }],
  host_selection_retry_max_attempts: '5',
};

test('RDS: VirtualService matches, weights and timeout; default route otherwise', (t) => {
  const rc = routesOf(sidecar, richSnapshot()).get('outbound');
  t.deepEqual(rc?.virtual_hosts.find((v) => v.name === `${REVIEWS}:9080`)?.routes, [
    {
      name: 'jason',
      match: { path: '/reviews/0', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] },
      route: { cluster: `outbound|9080|v2|${REVIEWS}`, retry_policy: RETRY },
    },
    { name: 'jason', match: { prefix: '/admin' }, route: { cluster: `outbound|9080|v2|${REVIEWS}`, retry_policy: RETRY } },
    {
      match: { prefix: '/' },
      route: {
        weighted_clusters: {
          clusters: [
            { name: `outbound|9080|v1|${REVIEWS}`, weight: { value: 20 } },
            { name: `outbound|9080||${REVIEWS}`, weight: { value: 80 } },
          ],
        },
        timeout: { seconds: '1', nanos: 500_000_000 },
        retry_policy: {
          retry_on: '5xx',
          num_retries: { value: 2 },
          retry_host_predicate: RETRY.retry_host_predicate,
          retry_priority: { name: 'envoy.retry_priorities.previous_priorities', typed_config: { '@type': TYPED_CONFIG.previousPriorities, update_frequency: 2 } },
          host_selection_retry_max_attempts: '5',
        },
      },
    },
  ]);
  t.deepEqual(rc?.virtual_hosts.find((v) => v.name.startsWith('ratings'))?.routes, [
    { name: 'default', match: { prefix: '/' }, route: { cluster: 'outbound|9080||ratings.default.svc.cluster.local', retry_policy: RETRY } },
  ]);
});

test('RDS: a destination host without a port takes its only port', (t) => {
  const snap = new SnapshotBuilder()
    .workload('a', 'front', 80)
    .workload('b', 'back', 7070)
    .yaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front}
spec: {hosts: [front], http: [{route: [{destination: {host: back}}]}]}
`)
    .build();
  const routes = routesOf(sidecar, snap).get('outbound')?.virtual_hosts.find((v) => v.name.startsWith('front'))?.routes;
  t.deepEqual(routes?.[0]?.route, { cluster: 'outbound|7070||back.default.svc.cluster.local', retry_policy: RETRY });
});

test('generation is deterministic and pure', (t) => {
  for (const typeUrl of Object.values(TYPE_URL)) {
    const snap = richSnapshot();
    t.is(JSON.stringify(generate(sidecar, typeUrl, snap)), JSON.stringify(generate(sidecar, typeUrl, richSnapshot())), typeUrl);
    t.is(JSON.stringify(generate(sidecar, typeUrl, snap)), JSON.stringify(generate(sidecar, typeUrl, snap)), typeUrl);
  }
});

/** A snapshot with reviews (9080) and ratings (9080) and one VirtualService on reviews. */
function vsSnapshot(http: string) {
  return new SnapshotBuilder()
    .workload('a', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('b', 'ratings', 9080)
    .yaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
${http}`)
    .build();
}

function reviewsRoutes(http: string, proxy = sidecar) {
  return routesOf(proxy, vsSnapshot(http)).get('outbound')?.virtual_hosts.find((v) => v.name === `${REVIEWS}:9080`)?.routes;
}

test('RDS: matches translate to Envoy: regex path, pseudo-headers, withoutHeaders, query parameters, ignoreUriCase', (t) => {
  const routes = reviewsRoutes(`  - match:
    - uri: {regex: '/r/[0-9]+'}
      method: {exact: POST}
      authority: {prefix: reviews}
      headers: {x-user: {prefix: admin-}, x-present: {}}
      withoutHeaders: {x-debug: {}}
      queryParams: {flavor: {exact: mint}}
      ignoreUriCase: true
    route: [{destination: {host: reviews}}]`);
  t.deepEqual(routes?.[0]?.match, {
    safe_regex: { regex: '/r/[0-9]+' },
    case_sensitive: { value: false },
    headers: [
      { name: ':method', string_match: { exact: 'POST' } },
      { name: ':authority', string_match: { prefix: 'reviews' } },
      { name: 'x-present', present_match: true },
      { name: 'x-user', string_match: { prefix: 'admin-' } },
      { name: 'x-debug', present_match: true, invert_match: true },
    ],
    query_parameters: [{ name: 'flavor', string_match: { exact: 'mint' } }],
  });
});

test('RDS: sourceLabels, sourceNamespace and port decide which proxies and ports get a match block', (t) => {
  const http = `  - match:
    - sourceLabels: {app: productpage}
    - sourceNamespace: shop
    - port: 9999
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: ratings}}]`;
  const count = (p: ReturnType<typeof proxyNode>) => (reviewsRoutes(http, p) ?? []).length;
  t.is(count(proxyNode('sidecar', { labels: { app: 'productpage' } })), 2, 'the labelled block and the catch-all');
  t.is(count(proxyNode('sidecar', { namespace: 'shop' })), 2, 'the namespace block and the catch-all');
  t.is(count(proxyNode('sidecar', { labels: { app: 'other' } })), 1, 'only the catch-all');
});

test('RDS: retryRemoteLocalities adds previous_priorities with update_frequency 2, as Istio does', (t) => {
  const [route] = reviewsRoutes(`  - route:
    - destination: {host: reviews}
    retries: {attempts: 3, retryOn: 5xx, retryRemoteLocalities: true}`) ?? [];
  t.deepEqual(route?.route?.retry_policy?.retry_priority, {
    name: 'envoy.retry_priorities.previous_priorities',
    typed_config: { '@type': TYPED_CONFIG.previousPriorities, update_frequency: 2 },
  });
  const [plain] = reviewsRoutes(`  - route:
    - destination: {host: reviews}
    retries: {attempts: 3, retryOn: 5xx, retryRemoteLocalities: false}`) ?? [];
  t.is(plain?.route?.retry_policy?.retry_priority, undefined);
});

test('RDS: retries, timeout, mirror, rewrite and header edits', (t) => {
  const [route] = reviewsRoutes(`  - route:
    - destination: {host: reviews}
      headers: {response: {set: {x-served-by: reviews}}}
    timeout: 3s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: 'gateway-error,503'}
    mirror: {host: ratings}
    mirrorPercentage: {value: 25}
    rewrite: {uri: /v2, authority: reviews.internal}
    headers: {request: {set: {x-a: '1'}, add: {x-b: '2'}, remove: [x-c]}}`) ?? [];
  t.deepEqual(route, {
    match: { prefix: '/' },
    route: {
      weighted_clusters: {
        clusters: [
          {
            name: `outbound|9080||${REVIEWS}`,
            weight: { value: 100 },
            response_headers_to_add: [{ header: { key: 'x-served-by', value: 'reviews' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
          },
        ],
      },
      timeout: { seconds: '3' },
      retry_policy: {
        retry_on: 'gateway-error,retriable-status-codes',
        num_retries: { value: 3 },
        per_try_timeout: { seconds: '0', nanos: 500_000_000 },
        retriable_status_codes: [503],
        retry_host_predicate: RETRY.retry_host_predicate,
        host_selection_retry_max_attempts: '5',
      },
      request_mirror_policies: [{ cluster: 'outbound|9080||ratings.default.svc.cluster.local', runtime_fraction: { default_value: { numerator: 250_000, denominator: 'MILLION' } } }],
      prefix_rewrite: '/v2',
      host_rewrite_literal: 'reviews.internal',
    },
    request_headers_to_add: [
      { header: { key: 'x-a', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
      { header: { key: 'x-b', value: '2' }, append_action: 'APPEND_IF_EXISTS_OR_ADD' },
    ],
    request_headers_to_remove: ['x-c'],
  });
});

test('RDS: uriRegexRewrite becomes regex_rewrite, mirrors keep their own percentages, gRPC retryOn conditions pass through', (t) => {
  const [route] = reviewsRoutes(`  - route: [{destination: {host: reviews}}]
    rewrite: {uriRegexRewrite: {match: '^/items/([0-9]+)$', rewrite: '/v2/items/\\1'}}
    mirrors:
    - destination: {host: ratings}
      percentage: {value: 10}
    - destination: {host: reviews}
    retries: {attempts: 2, retryOn: 'cancelled,deadline-exceeded,resource-exhausted,unavailable,internal'}`) ?? [];
  t.deepEqual(route?.route?.regex_rewrite, { pattern: { regex: '^/items/([0-9]+)$' }, substitution: '/v2/items/\\1' });
  t.is(route?.route?.prefix_rewrite, undefined);
  t.deepEqual(route?.route?.request_mirror_policies, [
    { cluster: 'outbound|9080||ratings.default.svc.cluster.local', runtime_fraction: { default_value: { numerator: 100_000, denominator: 'MILLION' } } },
    { cluster: `outbound|9080||${REVIEWS}` },
  ]);
  t.is(route?.route?.retry_policy?.retry_on, 'cancelled,deadline-exceeded,resource-exhausted,unavailable,internal');
});

test('RDS: attempts 0 turns retries off', (t) => {
  const [route] = reviewsRoutes(`  - route: [{destination: {host: reviews}}]
    retries: {attempts: 0}`) ?? [];
  t.is(route?.route?.retry_policy, undefined);
});

test('RDS: fault and CORS go to the route as per-filter config; redirect and directResponse are route actions', (t) => {
  const routes = reviewsRoutes(`  - match: [{uri: {exact: /old}}]
    redirect: {uri: /new, redirectCode: 308}
  - match: [{uri: {exact: /gone}}]
    directResponse: {status: 410, body: {string: gone}}
  - route: [{destination: {host: reviews}}]
    fault:
      delay: {fixedDelay: 2s, percentage: {value: 10}}
      abort: {httpStatus: 503, percentage: {value: 0.5}}
    corsPolicy: {allowOrigins: [{exact: 'https://shop.example'}], allowMethods: [GET], maxAge: 1h}`);
  t.deepEqual(routes?.[0], { match: { path: '/old' }, redirect: { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } });
  t.deepEqual(routes?.[1], { match: { path: '/gone' }, direct_response: { status: 410, body: { inline_string: 'gone' } } });
  t.deepEqual(routes?.[2]?.typed_per_filter_config, {
    'envoy.filters.http.fault': {
      '@type': TYPED_CONFIG.fault,
      delay: { fixed_delay: { seconds: '2' }, percentage: { numerator: 100_000, denominator: 'MILLION' } },
      abort: { http_status: 503, percentage: { numerator: 5000, denominator: 'MILLION' } },
    },
    'envoy.filters.http.cors': {
      '@type': TYPED_CONFIG.corsPolicy,
      allow_origin_string_match: [{ exact: 'https://shop.example' }],
      allow_methods: 'GET',
      max_age: '3600',
    },
  });
});

test('LDS: the outbound connection manager runs CORS, fault, then the router', (t) => {
  const l = listenersOf(sidecar, richSnapshot()).get('virtualOutbound');
  const hcm = l?.filter_chains?.[0]?.filters[0]?.typed_config;
  t.deepEqual(
    hcm && 'http_filters' in hcm ? hcm.http_filters.map((f) => f.typed_config['@type']) : [],
    [TYPED_CONFIG.cors, TYPED_CONFIG.fault, TYPED_CONFIG.router],
  );
});
