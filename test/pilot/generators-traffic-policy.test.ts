import test from 'ava';
import type { ClusterConfig, HashPolicyConfig } from '../../src/xds/config-types.ts';
import { validateCluster, validateRouteConfiguration } from '../../src/xds/index.ts';
import { decoded } from '../xds/support/decode.ts';
import { clustersOf, routesOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * DestinationRule traffic policies through CDS and RDS: each row generates the sidecar's
 * resources, round-trips them through the wire encoding and validates them with the sidecar's own
 * validators, so what Pilot writes is exactly what the cluster layer runs.
 */

const sidecar = proxyNode('sidecar');
const REVIEWS = 'reviews.default.svc.cluster.local';
const DR = (spec: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
${spec}`;

function snapshot(yaml: string) {
  return new SnapshotBuilder()
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('reviews-v2', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2' } })
    .workload('reviews-admin', 'reviews', 9443)
    .yaml(yaml)
    .build();
}

function clusterConfig(yaml: string, name: string): ClusterConfig {
  const c = clustersOf(sidecar, snapshot(yaml)).get(name);
  if (!c) throw new Error(`no cluster ${name}`);
  const r = validateCluster(decoded(c));
  if (!r.ok) throw new Error(r.errors.join('; '));
  return r.value;
}

const UNLIMITED = { maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 };
const subsets = `  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: RANDOM}
      portLevelSettings:
      - port: {number: 9080}
        connectionPool: {http: {http2MaxRequests: 7}}`;

const rows: { title: string; yaml: string; cluster: string; expected: Partial<ClusterConfig> }[] = [
  { title: 'no DestinationRule: round robin, Istio unlimited thresholds', yaml: '', cluster: `outbound|9080||${REVIEWS}`, expected: { lbPolicy: 'ROUND_ROBIN', circuitBreakers: UNLIMITED } },
  {
    title: 'LEAST_CONN is LEAST_REQUEST',
    yaml: DR('  trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: { lbPolicy: 'LEAST_REQUEST' },
  },
  {
    title: 'consistentHash header with ringHash.minimumRingSize',
    yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: X-User, ringHash: {minimumRingSize: 2048}}}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: { lbPolicy: 'RING_HASH', ringHash: { minimumRingSize: 2048, maximumRingSize: 8388608 } },
  },
  {
    title: 'deprecated top-level minimumRingSize',
    yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 512}}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: { lbPolicy: 'RING_HASH', ringHash: { minimumRingSize: 512, maximumRingSize: 8388608 } },
  },
  {
    title: 'maglev table size',
    yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpQueryParameterName: u, maglev: {tableSize: 251}}}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: { lbPolicy: 'MAGLEV', maglev: { tableSize: 251 } },
  },
  {
    title: 'connection pool',
    yaml: DR(`  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms}
      http: {http1MaxPendingRequests: 3, http2MaxRequests: 20, maxRequestsPerConnection: 5, maxRetries: 2, idleTimeout: 30s}`),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: {
      connectTimeoutMs: 250,
      circuitBreakers: { maxConnections: 10, maxPendingRequests: 3, maxRequests: 20, maxRetries: 2 },
      maxRequestsPerConnection: 5,
      idleTimeoutMs: 30000,
    },
  },
  {
    title: 'outlier detection (Istio mapping; panic threshold = minHealthPercent, 0 by default)',
    yaml: DR('  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 15s, maxEjectionPercent: 50}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: {
      outlierDetection: {
        consecutive5xx: 3,
        enforcingConsecutive5xx: 100,
        consecutiveGatewayFailure: 5,
        enforcingConsecutiveGatewayFailure: 0,
        intervalMs: 1000,
        baseEjectionTimeMs: 15000,
        maxEjectionPercent: 50,
      },
      healthyPanicThresholdPercent: 0,
    },
  },
  {
    title: 'deprecated consecutiveErrors counts gateway errors only; minHealthPercent',
    yaml: DR('  trafficPolicy: {outlierDetection: {consecutiveErrors: 4, minHealthPercent: 30}}'),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: {
      outlierDetection: {
        consecutive5xx: 5,
        enforcingConsecutive5xx: 0,
        consecutiveGatewayFailure: 4,
        enforcingConsecutiveGatewayFailure: 100,
        intervalMs: 10000,
        baseEjectionTimeMs: 30000,
        maxEjectionPercent: 10,
      },
      healthyPanicThresholdPercent: 30,
    },
  },
  {
    title: 'port-level settings override the top level for their port only',
    yaml: DR(`  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 9443}
      loadBalancer: {simple: LEAST_REQUEST}`),
    cluster: `outbound|9443||${REVIEWS}`,
    expected: { lbPolicy: 'LEAST_REQUEST' },
  },
  {
    title: 'the other port keeps the top level',
    yaml: DR(`  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    portLevelSettings:
    - port: {number: 9443}
      loadBalancer: {simple: LEAST_REQUEST}`),
    cluster: `outbound|9080||${REVIEWS}`,
    expected: { lbPolicy: 'RANDOM' },
  },
  {
    title: 'a subset without a policy inherits the top level',
    yaml: DR(`  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}, connectionPool: {http: {http2MaxRequests: 9}}}\n${subsets}`),
    cluster: `outbound|9080|v1|${REVIEWS}`,
    expected: { lbPolicy: 'LEAST_REQUEST', circuitBreakers: { ...UNLIMITED, maxRequests: 9 } },
  },
  {
    title: "a subset's sections override section by section, its port level last",
    yaml: DR(`  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}, connectionPool: {http: {http2MaxRequests: 9}}}\n${subsets}`),
    cluster: `outbound|9080|v2|${REVIEWS}`,
    expected: { lbPolicy: 'RANDOM', circuitBreakers: { ...UNLIMITED, maxRequests: 7 } },
  },
];

for (const row of rows) {
  test(`CDS traffic policy: ${row.title}`, (t) => {
    const got = clusterConfig(row.yaml, row.cluster);
    t.like(got, row.expected);
  });
}

function routeHash(yaml: string): HashPolicyConfig[] | undefined {
  const rc = routesOf(sidecar, snapshot(yaml)).get('outbound');
  const r = validateRouteConfiguration(decoded(rc ?? {}));
  if (!r.ok) throw new Error(r.errors.join('; '));
  const vh = r.value.virtualHosts.find((v) => v.name === `${REVIEWS}:9080`);
  return vh?.routes[0]?.hashPolicy;
}

const hashRows: { title: string; yaml: string; expected: HashPolicyConfig[] | undefined }[] = [
  { title: 'no consistentHash: no hash policy', yaml: DR('  trafficPolicy: {loadBalancer: {simple: RANDOM}}'), expected: undefined },
  { title: 'header', yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: X-User}}}'), expected: [{ kind: 'header', name: 'x-user', terminal: false }] },
  {
    title: 'cookie with path and ttl',
    yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: session, path: /, ttl: 60s}}}}'),
    expected: [{ kind: 'cookie', name: 'session', path: '/', ttlMs: 60000, terminal: false }],
  },
  { title: 'source IP', yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}'), expected: [{ kind: 'source-ip', terminal: false }] },
  { title: 'query parameter', yaml: DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpQueryParameterName: u}}}'), expected: [{ kind: 'query', name: 'u', terminal: false }] },
];

for (const row of hashRows) {
  test(`RDS hash policy: ${row.title}`, (t) => {
    t.deepEqual(routeHash(row.yaml), row.expected);
  });
}

test('RDS hash policy: proxyless routes carry the header hash policy of their ring-hash clusters', (t) => {
  const rc = routesOf(proxyNode('proxyless'), snapshot(DR('  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x}}}')));
  t.deepEqual(rc.get(`${REVIEWS}:9080`)?.virtual_hosts[0]?.routes[0]?.route?.hash_policy, [{ header: { header_name: 'x' } }]);
});
