import test from 'ava';
import { formatFinding, proxylessFindings } from '../../src/pilot/generators/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { clustersOf, routesOf } from './support/fixtures.ts';
import { grpcXdsDecode } from './support/grpc-xds-decode.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * DestinationRule and VirtualService fields in proxyless CDS/RDS, each row checked twice: what
 * Pilot writes, and what @grpc/grpc-js-xds's own decoder makes of it (the client's parsed update,
 * or its NACK). Then the findings Pilot reports for what the client cannot honour.
 */

const proxyless = proxyNode('proxyless');
const REVIEWS = 'reviews.default.svc.cluster.local';
const CLUSTER = `outbound|9080||${REVIEWS}`;
const DR = (policy: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: ${policy}`;

function snapshot(yaml: string) {
  const b = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080, { sidecar: false, protocol: 'grpc' });
  return (yaml ? b.yaml(yaml) : b).build();
}

interface CdsUpdate {
  lbPolicyConfig: unknown[];
  maxConcurrentRequests?: number;
  outlierDetectionUpdate?: { failure_percentage_ejection?: unknown; success_rate_ejection?: unknown; interval?: unknown; max_ejection_percent?: number };
}

function clientView(yaml: string): CdsUpdate {
  const c = clustersOf(proxyless, snapshot(yaml)).get(CLUSTER);
  if (!c) throw new Error('no cluster');
  const [r] = grpcXdsDecode(TYPE_URL.cluster, [c]);
  if (!r || r.error !== undefined) throw new Error(`grpc-js-xds NACKs the cluster: ${r?.error}`);
  return r.value as CdsUpdate;
}

const ROUND_ROBIN = [{ xds_wrr_locality: { child_policy: [{ round_robin: {} }] } }];

const rows: { title: string; policy: string; expected: Partial<CdsUpdate> }[] = [
  { title: 'no DestinationRule: round robin, no limit', policy: '', expected: { lbPolicyConfig: ROUND_ROBIN, maxConcurrentRequests: undefined } },
  { title: 'LEAST_REQUEST (NACKed by the client): round robin', policy: '{loadBalancer: {simple: LEAST_REQUEST}}', expected: { lbPolicyConfig: ROUND_ROBIN } },
  { title: 'RANDOM (NACKed by the client): round robin', policy: '{loadBalancer: {simple: RANDOM}}', expected: { lbPolicyConfig: ROUND_ROBIN } },
  {
    title: 'consistentHash with ringHash.minimumRingSize: ring hash',
    policy: '{loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 2048}}}}',
    expected: { lbPolicyConfig: [{ ring_hash: { min_ring_size: 2048, max_ring_size: 8_388_608 } }] },
  },
  {
    title: 'consistentHash with the default ring: ring hash of 1024',
    policy: '{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}',
    expected: { lbPolicyConfig: [{ ring_hash: { min_ring_size: 1024, max_ring_size: 8_388_608 } }] },
  },
  {
    title: 'Maglev (NACKed by the client): ring hash on the same key',
    policy: '{loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}}}',
    expected: { lbPolicyConfig: [{ ring_hash: { min_ring_size: 1024, max_ring_size: 8_388_608 } }] },
  },
  { title: 'http2MaxRequests: the client limits concurrent calls', policy: '{connectionPool: {http: {http2MaxRequests: 7}}}', expected: { maxConcurrentRequests: 7 } },
  { title: 'other connection-pool fields are not sent', policy: '{connectionPool: {tcp: {maxConnections: 3}, http: {maxRetries: 2}}}', expected: { maxConcurrentRequests: undefined } },
];

for (const row of rows) {
  test(`proxyless CDS: ${row.title}`, (t) => {
    const view = clientView(row.policy === '' ? '' : DR(row.policy));
    for (const [k, v] of Object.entries(row.expected)) t.deepEqual(view[k as keyof CdsUpdate], v, k);
  });
}

test('proxyless CDS: consecutive5xxErrors becomes gRPC failure-percentage ejection, success rate off', (t) => {
  const policy = '{outlierDetection: {consecutive5xxErrors: 3, interval: 2s, baseEjectionTime: 1m, maxEjectionPercent: 50}}';
  const c = clustersOf(proxyless, snapshot(DR(policy))).get(CLUSTER);
  t.deepEqual(c?.outlier_detection, {
    enforcing_success_rate: { value: 0 },
    consecutive_5xx: { value: 3 },
    enforcing_consecutive_5xx: { value: 100 },
    failure_percentage_threshold: { value: 99 },
    enforcing_failure_percentage: { value: 100 },
    failure_percentage_minimum_hosts: { value: 1 },
    failure_percentage_request_volume: { value: 3 },
    interval: { seconds: '2' },
    base_ejection_time: { seconds: '60' },
    max_ejection_percent: { value: 50 },
  });
  const od = clientView(DR(policy)).outlierDetectionUpdate;
  t.deepEqual(od?.failure_percentage_ejection, { enforcement_percentage: 100, minimum_hosts: 1, request_volume: 3, threshold: 99 });
  t.is(od?.success_rate_ejection, undefined);
  t.is(od?.max_ejection_percent, 50);
});

test('proxyless CDS: the smallest of the consecutive thresholds sets the request volume; none set, no outlier detection', (t) => {
  const both = clustersOf(proxyless, snapshot(DR('{outlierDetection: {consecutive5xxErrors: 7, consecutiveGatewayErrors: 4}}')))?.get(CLUSTER);
  t.is(both?.outlier_detection?.failure_percentage_request_volume?.value, 4);
  t.is(both?.outlier_detection?.consecutive_gateway_failure?.value, 4);
  const none = clustersOf(proxyless, snapshot(DR('{outlierDetection: {interval: 1s}}'))).get(CLUSTER);
  t.is(none?.outlier_detection, undefined);
});

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{queryParams: {debug: {exact: "1"}}}, {headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews}}]
    timeout: 1500ms
  - match: [{queryParams: {only: {exact: "1"}}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
`;

test('proxyless RDS: timeouts also as max_stream_duration, query-parameter blocks left out, hash policy kept; the client accepts it', (t) => {
  const snap = snapshot(`${VS}---\n${DR('{loadBalancer: {consistentHash: {httpHeaderName: x-user}}}')}`);
  const rc = routesOf(proxyless, snap).get(`${REVIEWS}:9080`);
  const routes = rc?.virtual_hosts[0]?.routes ?? [];
  t.deepEqual(
    routes.map((r) => r.match),
    [{ prefix: '/', headers: [{ name: 'end-user', string_match: { exact: 'jason' } }] }, { prefix: '/' }],
  );
  t.deepEqual(routes[0]?.route?.max_stream_duration, { max_stream_duration: { seconds: '1', nanos: 500_000_000 } });
  t.deepEqual(routes[0]?.route?.timeout, { seconds: '1', nanos: 500_000_000 });
  t.deepEqual(routes[0]?.route?.hash_policy, [{ header: { header_name: 'x-user' } }]);
  t.is(routes[1]?.route?.max_stream_duration, undefined);
  // Sidecars keep every block (Envoy matches query parameters) and no max_stream_duration.
  const sidecarRoutes = routesOf(proxyNode('sidecar'), snap).get('outbound')?.virtual_hosts.find((v) => v.name === `${REVIEWS}:9080`)?.routes ?? [];
  t.is(sidecarRoutes.length, 4);
  t.is(sidecarRoutes[0]?.route?.max_stream_duration, undefined);
  const [decoded] = grpcXdsDecode(TYPE_URL.route, rc ? [rc] : []);
  t.is(decoded?.error, undefined);
});

const FINDINGS_CONFIG = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{method: {exact: GET}}, {queryParams: {q: {exact: "1"}}}]
    route: [{destination: {host: reviews}, headers: {request: {set: {x-a: b}}}}]
    mirror: {host: reviews}
    retries: {attempts: 2, retryOn: "5xx,unavailable", perTryTimeout: 1s, retryRemoteLocalities: true}
    corsPolicy: {allowOrigins: [{exact: "https://a"}]}
  - directResponse: {status: 503}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {consistentHash: {httpCookie: {name: s, ttl: 1s}, maglev: {}}}
    connectionPool: {tcp: {maxConnections: 3}, http: {http2MaxRequests: 5}}
    outlierDetection: {consecutive5xxErrors: 3, minHealthPercent: 20}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
`;

test('proxyless findings: every field the client cannot honour is reported with its path and effect', (t) => {
  const rows = proxylessFindings(snapshot(FINDINGS_CONFIG)).map((f) => [f.object, f.path, f.effect]);
  t.deepEqual(rows, [
    ['DestinationRule default/reviews', 'spec.subsets[0].trafficPolicy.loadBalancer.simple', 'not-sent'],
    ['DestinationRule default/reviews', 'spec.trafficPolicy.connectionPool.tcp.maxConnections', 'not-sent'],
    ['DestinationRule default/reviews', 'spec.trafficPolicy.loadBalancer.consistentHash', 'ignored'],
    ['DestinationRule default/reviews', 'spec.trafficPolicy.loadBalancer.consistentHash.maglev', 'approximated'],
    ['DestinationRule default/reviews', 'spec.trafficPolicy.outlierDetection', 'approximated'],
    ['DestinationRule default/reviews', 'spec.trafficPolicy.outlierDetection.minHealthPercent', 'not-sent'],
    ['VirtualService default/reviews', 'spec.http[0].corsPolicy', 'not-sent'],
    ['VirtualService default/reviews', 'spec.http[0].match[0].method', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[0].match[1].queryParams', 'not-sent'],
    ['VirtualService default/reviews', 'spec.http[0].mirror', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[0].retries.perTryTimeout', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[0].retries.retryOn', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[0].retries.retryRemoteLocalities', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[0].route[0].headers', 'ignored'],
    ['VirtualService default/reviews', 'spec.http[1].directResponse', 'nacked'],
  ]);
  const retry = proxylessFindings(snapshot(FINDINGS_CONFIG)).find((f) => f.path.endsWith('retryOn'));
  t.regex(retry ? formatFinding(retry) : '', /retryOn: ignored for proxyless gRPC clients: .*ignores 5xx$/);
});

test('proxyless findings: none for what the client honours (weights, header matches, gRPC retries, faults, ring hash on a header)', (t) => {
  const ok = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}, uri: {prefix: /a}}]
    route: [{destination: {host: reviews, subset: v1}, weight: 80}, {destination: {host: reviews}, weight: 20}]
    retries: {attempts: 2, retryOn: "unavailable,cancelled"}
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 10}}}
    timeout: 2s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}, connectionPool: {http: {http2MaxRequests: 9}}}
  subsets: [{name: v1, labels: {version: v1}}]
`;
  t.deepEqual(proxylessFindings(snapshot(ok)), []);
});
