import test from 'ava';
import { validateCluster, validateClusterLoadAssignment } from '../../src/xds/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { decoded } from '../xds/support/decode.ts';
import { clustersOf, endpointsOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * DestinationRule `localityLbSetting` through EDS, per proxy: each row generates one sidecar's
 * assignment for reviews, round-trips it through the wire encoding and the sidecar's own EDS
 * validator, and lists what the data plane then balances over: `priority locality weight
 * [workloads]` per locality group (remote workloads stand behind their cluster's gateway, shown
 * as `gw:<cluster>×<count>`).
 */

const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const REGION = 'topology.kubernetes.io/region';
const ZONE = 'topology.kubernetes.io/zone';
const OD = 'outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5s}';

const DR = (policy: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
${policy}`;

/** east: reviews-v1 and reviews-v2e; west (imported): reviews-v2w and reviews-v3w. No topology labels. */
function plainSnapshot(yaml: string) {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('reviews-v2e', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2' } })
    .imported('west', '10.1.0.1', 'reviews-v2w', 'reviews', 9080, { version: 'v2' })
    .imported('west', '10.1.0.1', 'reviews-v3w', 'reviews', 9080, { version: 'v3' })
    .yaml(yaml)
    .build();
}

/** The same workloads with localities r1/z1, r1/z2 (east) and r2, r3 (west, zone `west`). */
function regionSnapshot(yaml: string) {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', [REGION]: 'r1', [ZONE]: 'z1' } })
    .workload('reviews-v2e', 'reviews', 9080, { labels: { app: 'reviews', [REGION]: 'r1', [ZONE]: 'z2' } })
    .imported('west', '10.1.0.1', 'reviews-v2w', 'reviews', 9080, { [REGION]: 'r2' })
    .imported('west', '10.1.0.1', 'reviews-v3w', 'reviews', 9080, { [REGION]: 'r3' })
    .yaml(yaml)
    .build();
}

function groups(proxy: ProxyNode, snap: ReturnType<typeof plainSnapshot>): string[] {
  const cla = endpointsOf(proxy, snap).get(REVIEWS);
  const r = validateClusterLoadAssignment(decoded(cla ?? {}));
  if (!r.ok) throw new Error(r.errors.join('; '));
  const out = new Map<string, string[]>();
  for (const e of r.value.endpoints) {
    const l = e.locality ?? {};
    const key = `P${e.priority} ${l.region ?? ''}/${l.zone ?? ''}${l.subZone ? `/${l.subZone}` : ''} w${e.localityWeight ?? '-'}`;
    out.set(key, [...(out.get(key) ?? []), e.workload ?? `gw:${e.cluster ?? '?'}×${e.weight}`]);
  }
  return [...out].map(([k, v]) => `${k} [${v.join(',')}]`);
}

const eastSidecar = proxyNode('sidecar', { cluster: 'east', labels: { app: 'productpage' } });
const eastV2 = proxyNode('sidecar', { cluster: 'east', workload: 'client-v2', labels: { app: 'client', version: 'v2' } });
const r1z1 = proxyNode('sidecar', { cluster: 'east', labels: { app: 'productpage', [REGION]: 'r1', [ZONE]: 'z1' } });
const r2 = proxyNode('sidecar', { cluster: 'east', labels: { app: 'productpage', [REGION]: 'r2', [ZONE]: 'z9' } });

const rows: { title: string; snap: typeof plainSnapshot; policy: string; proxy: ProxyNode; expected: string[] }[] = [
  {
    title: 'no localityLbSetting: one locality per cluster, all priority 0',
    snap: plainSnapshot,
    policy: `    ${OD}`,
    proxy: eastSidecar,
    expected: ['P0 /east w2 [reviews-v1,reviews-v2e]', 'P0 /west w2 [gw:west×2]'],
  },
  {
    title: 'failoverPriority [cluster]: the proxy’s own cluster first, then the other one',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster]}}\n    ${OD}`,
    proxy: eastSidecar,
    expected: ['P0 /east w2 [reviews-v1,reviews-v2e]', 'P1 /west w2 [gw:west×2]'],
  },
  {
    title: 'failoverPriority [cluster] without outlierDetection: ignored, as Istio does',
    snap: plainSnapshot,
    policy: '    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster]}}',
    proxy: eastSidecar,
    expected: ['P0 /east w2 [reviews-v1,reviews-v2e]', 'P0 /west w2 [gw:west×2]'],
  },
  {
    title: 'failoverPriority [cluster] with enabled: false: ignored',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {enabled: false, failoverPriority: [topology.istio.io/cluster]}}\n    ${OD}`,
    proxy: eastSidecar,
    expected: ['P0 /east w2 [reviews-v1,reviews-v2e]', 'P0 /west w2 [gw:west×2]'],
  },
  {
    title: 'failoverPriority [cluster, version]: all match 0, cluster only 1, neither 2',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster, version]}}\n    ${OD}`,
    proxy: eastV2,
    expected: ['P0 /east w1 [reviews-v2e]', 'P1 /east w1 [reviews-v1]', 'P2 /west w2 [gw:west×2]'],
  },
  {
    title: 'failoverPriority [version, cluster]: a gateway endpoint splits by priority',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failoverPriority: [version, topology.istio.io/cluster]}}\n    ${OD}`,
    proxy: eastV2,
    expected: ['P0 /east w1 [reviews-v2e]', 'P1 /west w1 [gw:west×1]', 'P2 /east w1 [reviews-v1]', 'P2 /west w1 [gw:west×1]'],
  },
  {
    title: 'failoverPriority key=value overrides the proxy’s value',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster=west]}}\n    ${OD}`,
    proxy: eastSidecar,
    expected: ['P0 /west w2 [gw:west×2]', 'P1 /east w2 [reviews-v1,reviews-v2e]'],
  },
  {
    title: 'default failover: same zone, same region, failover region, other regions',
    snap: regionSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r3}]}}\n    ${OD}`,
    proxy: r1z1,
    expected: ['P0 r1/z1 w1 [reviews-v1]', 'P1 r1/z2 w1 [reviews-v2e]', 'P2 r3/west w1 [gw:west×1]', 'P3 r2/west w1 [gw:west×1]'],
  },
  {
    title: 'failoverPriority [cluster] with failover r1→r3: own cluster first, then r3 before r2 within the other cluster',
    snap: regionSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r3}], failoverPriority: [topology.istio.io/cluster]}}\n    ${OD}`,
    proxy: r1z1,
    expected: ['P0 r1/z1 w1 [reviews-v1]', 'P1 r1/z2 w1 [reviews-v2e]', 'P2 r3/west w1 [gw:west×1]', 'P3 r2/west w1 [gw:west×1]'],
  },
  {
    title: 'failoverPriority [cluster=west] with failover r1→r2: the label rank wins over locality (west first, r2 before r3)',
    snap: regionSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r2}], failoverPriority: [topology.istio.io/cluster=west]}}\n    ${OD}`,
    proxy: r1z1,
    expected: ['P0 r2/west w1 [gw:west×1]', 'P1 r3/west w1 [gw:west×1]', 'P2 r1/z1 w1 [reviews-v1]', 'P3 r1/z2 w1 [reviews-v2e]'],
  },
  {
    title: 'failoverPriority with failover, without outlierDetection: ignored, as Istio does',
    snap: regionSnapshot,
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r2}], failoverPriority: [topology.istio.io/cluster]}}',
    proxy: r1z1,
    expected: ['P0 r1/z1 w1 [reviews-v1]', 'P0 r1/z2 w1 [reviews-v2e]', 'P0 r2/west w1 [gw:west×1]', 'P0 r3/west w1 [gw:west×1]'],
  },
  {
    title: 'enabled with nothing else: locality-prioritized (same cluster first without labels)',
    snap: plainSnapshot,
    policy: `    loadBalancer: {localityLbSetting: {enabled: true}}\n    ${OD}`,
    proxy: eastSidecar,
    expected: ['P0 /east w2 [reviews-v1,reviews-v2e]', 'P1 /west w2 [gw:west×2]'],
  },
  {
    title: 'distribute: named localities get their weights, the others are left out',
    snap: regionSnapshot,
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: r1/z1, to: {r1/z1: 70, "r2/*": 30}}]}}',
    proxy: r1z1,
    expected: ['P0 r1/z1 w70 [reviews-v1]', 'P0 r2/west w30 [gw:west×1]'],
  },
  {
    title: 'distribute: a wildcard spreads its weight over the localities it matches',
    snap: regionSnapshot,
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "r1/*", to: {"r1/*": 50, "r2/*": 50}}]}}',
    proxy: r1z1,
    expected: ['P0 r1/z1 w25 [reviews-v1]', 'P0 r1/z2 w25 [reviews-v2e]', 'P0 r2/west w50 [gw:west×1]'],
  },
  {
    title: 'distribute: a proxy no rule is from keeps the default weights (and needs no outlierDetection)',
    snap: regionSnapshot,
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: r1/z1, to: {r1/z1: 100}}]}}',
    proxy: r2,
    expected: ['P0 r1/z1 w1 [reviews-v1]', 'P0 r1/z2 w1 [reviews-v2e]', 'P0 r2/west w1 [gw:west×1]', 'P0 r3/west w1 [gw:west×1]'],
  },
];

for (const row of rows) {
  test(`locality EDS: ${row.title}`, (t) => {
    t.deepEqual(groups(row.proxy, row.snap(DR(row.policy))), row.expected);
  });
}

test('distribute turns on locality-weighted balancing on the cluster; failover and consistentHash do not', (t) => {
  const config = (policy: string) => {
    const c = clustersOf(eastSidecar, regionSnapshot(DR(policy))).get(REVIEWS);
    const r = validateCluster(decoded(c ?? {}));
    if (!r.ok) throw new Error(r.errors.join('; '));
    return r.value;
  };
  t.true(config('    loadBalancer: {localityLbSetting: {distribute: [{from: "*", to: {"r1/*": 100}}]}}').localityWeightedLb);
  t.falsy(config(`    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster]}}\n    ${OD}`).localityWeightedLb);
  t.falsy(config('    loadBalancer: {consistentHash: {useSourceIp: true}, localityLbSetting: {distribute: [{from: "*", to: {"r1/*": 100}}]}}').localityWeightedLb);
});

test('a subset’s loadBalancer replaces the top-level one, localityLbSetting included', (t) => {
  const snap = plainSnapshot(`${DR(`    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster]}}\n    ${OD}`)}
  subsets:
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: RANDOM}}}
  - {name: v3, labels: {version: v3}}`);
  const eds = endpointsOf(eastSidecar, snap);
  t.deepEqual(eds.get(`outbound|9080|v2|reviews.default.svc.cluster.local`)?.endpoints.map((l) => l.priority ?? 0), [0, 0]);
  t.deepEqual(eds.get(`outbound|9080|v3|reviews.default.svc.cluster.local`)?.endpoints.map((l) => l.priority ?? 0), [0]);
  t.deepEqual(eds.get(REVIEWS)?.endpoints.map((l) => l.priority ?? 0), [0, 1]);
});
