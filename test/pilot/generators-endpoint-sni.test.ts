import test from 'ava';
import { validateClusterLoadAssignment, validateListener } from '../../src/xds/index.ts';
import { endpointIdOf, endpointSniFor, parseSni, sniFor } from '../../src/xds/naming.ts';
import { decoded } from '../xds/support/decode.ts';
import { endpointRows, endpointsOf, listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * Endpoint-qualified SNIs (`ep_.<id>_.outbound_...`): a sidecar's EDS lists every remote endpoint
 * with a federation id as its own endpoint carrying `meshfed.sni`, and the gateway serves one
 * chain per local endpoint, so that the source balances and ejects each remote endpoint itself.
 */

const REVIEWS = 'reviews.default.svc.cluster.local';
const OUTBOUND = `outbound|9080||${REVIEWS}`;
const W1 = endpointIdOf('west', 'default', 'reviews-w1');
const W2 = endpointIdOf('west', 'default', 'reviews-w2');

const sniTable: { sni: string; parsed: ReturnType<typeof parseSni> }[] = [
  { sni: `outbound_.9080_._.${REVIEWS}`, parsed: { port: 9080, subset: '', hostname: REVIEWS } },
  { sni: `ep_.0123456789abcdef_.outbound_.9080_._.${REVIEWS}`, parsed: { port: 9080, subset: '', hostname: REVIEWS, endpointId: '0123456789abcdef' } },
  { sni: `ep_.0123456789abcdef_.outbound_.9080_.v1_.${REVIEWS}`, parsed: { port: 9080, subset: 'v1', hostname: REVIEWS, endpointId: '0123456789abcdef' } },
  { sni: `ep_.0123456789ABCDEF_.outbound_.9080_._.${REVIEWS}`, parsed: undefined },
  { sni: `ep_.0123456789abcde_.outbound_.9080_._.${REVIEWS}`, parsed: undefined },
  { sni: `ep_._.outbound_.9080_._.${REVIEWS}`, parsed: undefined },
  { sni: `ep_.0123456789abcdef_.ep_.0123456789abcdef_.outbound_.9080_._.${REVIEWS}`, parsed: undefined },
  { sni: `x.ep_.0123456789abcdef_.outbound_.9080_._.${REVIEWS}`, parsed: undefined },
  { sni: `ep_.0123456789abcdef_.outbound_.0_._.${REVIEWS}`, parsed: undefined },
  { sni: 'ep_.0123456789abcdef_.reviews.default.svc.cluster.local', parsed: undefined },
];

for (const row of sniTable) {
  test(`parseSni: ${row.sni}`, (t) => {
    t.deepEqual(parseSni(row.sni), row.parsed);
  });
}

test('endpointSniFor round-trips through parseSni and keeps the service SNI as its suffix', (t) => {
  const sni = endpointSniFor(W1, 9080, 'v1', REVIEWS);
  t.true(sni.endsWith(`_.${sniFor(9080, 'v1', REVIEWS)}`));
  t.deepEqual(parseSni(sni), { port: 9080, subset: 'v1', hostname: REVIEWS, endpointId: W1 });
});

/** east imports reviews from west: w1 and w2 with ids (a current peer), and from north: n1 without (an older peer). */
function eastSnapshot() {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('productpage-v1', 'productpage', 9080)
    .imported('west', '10.1.0.1', 'reviews-w1', 'reviews', 9080, {}, 'default', W1)
    .imported('west', '10.1.0.1', 'reviews-w2', 'reviews', 9080, {}, 'default', W2)
    .imported('north', '10.2.0.1', 'reviews-n1', 'reviews', 9080)
    .imported('north', '10.2.0.1', 'reviews-n2', 'reviews', 9080)
    .build();
}

test('sidecar EDS: each remote endpoint with an id is its own endpoint at the gateway with meshfed.sni; older peers collapse', (t) => {
  const sidecar = proxyNode('sidecar', { cluster: 'east' });
  const cla = endpointsOf(sidecar, eastSnapshot()).get(OUTBOUND);
  t.deepEqual(endpointRows(cla), [
    ['north', 2, '10.2.0.1:15443', 2, 'HEALTHY', { istio: { tlsMode: 'istio', cluster_id: 'north' } }],
    ['west', 2, '10.1.0.1:15443', 1, 'HEALTHY', {
      istio: { tlsMode: 'istio', cluster_id: 'west' },
      meshfed: { sni: endpointSniFor(W1 < W2 ? W1 : W2, 9080, '', REVIEWS), workload: W1 < W2 ? 'reviews-w1' : 'reviews-w2', namespace: 'default' },
    }],
    ['west', 2, '10.1.0.1:15443', 1, 'HEALTHY', {
      istio: { tlsMode: 'istio', cluster_id: 'west' },
      meshfed: { sni: endpointSniFor(W1 < W2 ? W2 : W1, 9080, '', REVIEWS), workload: W1 < W2 ? 'reviews-w2' : 'reviews-w1', namespace: 'default' },
    }],
  ]);
  // What the sidecar's data plane makes of it: three distinct hosts, two of them behind one address.
  const r = validateClusterLoadAssignment(decoded(cla ?? {}));
  if (!r.ok) throw new Error(r.errors.join('; '));
  t.deepEqual(
    r.value.endpoints.map((e) => e.sni ?? '-'),
    ['-', ...[W1, W2].sort().map((id) => endpointSniFor(id, 9080, '', REVIEWS))],
  );
});

test('sidecar EDS: a subset cluster names the subset in each endpoint-qualified SNI', (t) => {
  const snap = new SnapshotBuilder({ cluster: 'east' })
    .imported('west', '10.1.0.1', 'reviews-w1', 'reviews', 9080, { version: 'v1' }, 'default', W1)
    .imported('west', '10.1.0.1', 'reviews-w2', 'reviews', 9080, { version: 'v2' }, 'default', W2)
    .yaml('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: [{name: v2, labels: {version: v2}}]\n')
    .build();
  const cla = endpointsOf(proxyNode('sidecar'), snap).get(`outbound|9080|v2|${REVIEWS}`);
  t.deepEqual(
    endpointRows(cla).map((row) => row[5]['meshfed']),
    [{ sni: endpointSniFor(W2, 9080, 'v2', REVIEWS), workload: 'reviews-w2', namespace: 'default' }],
  );
});

/** west: reviews-w1 (zone z1), reviews-w2 (zone z2), exported; ratings not exported. */
function westSnapshot(extra = '') {
  return new SnapshotBuilder({ cluster: 'west', gatewayAddress: '127.0.3.1' })
    .workload('reviews-w1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1', 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z1' } })
    .workload('reviews-w2', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2', 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z2' } })
    .workload('ratings-w1', 'ratings', 9080)
    .yaml(`apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: {name: reviews, namespace: default}\n${extra}`)
    .build();
}

const gateway = proxyNode('router', { cluster: 'west', ip: '127.0.3.1', workload: 'istio-eastwestgateway', namespace: 'istio-system', labels: { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z1' } });

test('gateway LDS: one chain per local endpoint of each exported SNI, and the validator accepts them', (t) => {
  const l = listenersOf(gateway, westSnapshot()).get('eastwestgateway_15443');
  const names = (l?.filter_chains ?? []).map((c) => c.filter_chain_match?.server_names?.[0] ?? '');
  t.deepEqual(names, [...[W1, W2].sort().map((id) => endpointSniFor(id, 9080, '', REVIEWS)), sniFor(9080, '', REVIEWS)]);
  t.false(names.some((n) => n.includes('ratings')), 'a service that is not exported gets no chain, qualified or not');
  const r = validateListener(decoded(l ?? {}));
  t.true(r.ok, r.ok ? '' : r.errors.join('; '));
});

test('gateway EDS: an endpoint-qualified SNI holds exactly its endpoint; a subset SNI only the subset’s', (t) => {
  const subsets = 'spec: {}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  subsets: [{name: v2, labels: {version: v2}}]\n';
  const eds = endpointsOf(gateway, westSnapshot(subsets));
  const addresses = (name: string) => endpointRows(eds.get(name)).map((r) => r[2]);
  t.deepEqual(addresses(endpointSniFor(W1, 9080, '', REVIEWS)), ['127.0.1.1:9080']);
  t.deepEqual(addresses(endpointSniFor(W2, 9080, '', REVIEWS)), ['127.0.1.2:9080']);
  t.deepEqual(addresses(endpointSniFor(W2, 9080, 'v2', REVIEWS)), ['127.0.1.2:9080']);
  t.false(eds.has(endpointSniFor(W1, 9080, 'v2', REVIEWS)), 'w1 is not in subset v2: no chain, so the gateway refuses it');
  t.deepEqual(addresses(sniFor(9080, '', REVIEWS)), ['127.0.1.1:9080', '127.0.1.2:9080']);
});

test('gateway EDS: a service SNI follows localityLbSetting from the gateway’s own locality', (t) => {
  const od = 'outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5s}';
  const dr = (lb: string) =>
    `spec: {}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer: {localityLbSetting: ${lb}}\n    ${od}\n`;
  const priorities = (snap: ReturnType<typeof westSnapshot>) =>
    (endpointsOf(gateway, snap).get(sniFor(9080, '', REVIEWS))?.endpoints ?? []).map((l) => `${l.locality?.zone}:P${l.priority ?? 0}`);
  t.deepEqual(priorities(westSnapshot()), ['z1:P0', 'z2:P0'], 'without a rule every local endpoint shares P0');
  t.deepEqual(priorities(westSnapshot(dr('{enabled: true}'))), ['z1:P0', 'z2:P1'], 'same zone as the gateway first');
  t.deepEqual(priorities(westSnapshot(dr('{failoverPriority: [version=v2]}'))), ['z2:P0', 'z1:P1']);
  const weighted = endpointsOf(gateway, westSnapshot(dr('{distribute: [{from: "r1/z1/*", to: {"r1/z1/*": 80, "r1/z2/*": 20}}]}'))).get(sniFor(9080, '', REVIEWS));
  t.deepEqual(
    (weighted?.endpoints ?? []).map((l) => `${l.locality?.zone}:w${l.load_balancing_weight.value}`),
    ['z1:w80', 'z2:w20'],
  );
  const qualified = endpointsOf(gateway, westSnapshot(dr('{failoverPriority: [version=v2]}'))).get(endpointSniFor(W1, 9080, '', REVIEWS));
  t.deepEqual((qualified?.endpoints ?? []).map((l) => l.priority ?? 0), [0], 'one endpoint: no plan');
});

test('proxyless EDS: the same locality priorities as a sidecar of the same locality', (t) => {
  const od = 'outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5s}';
  const snap = westSnapshot(
    `spec: {}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy:\n    loadBalancer: {localityLbSetting: {enabled: true}}\n    ${od}\n`,
  );
  const labels = { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z2' };
  const shape = (type: 'sidecar' | 'proxyless') =>
    (endpointsOf(proxyNode(type, { cluster: 'west', labels }), snap).get(OUTBOUND)?.endpoints ?? []).map((l) => `${l.locality?.zone}:P${l.priority ?? 0}`);
  t.deepEqual(shape('proxyless'), ['z2:P0', 'z1:P1']);
  t.deepEqual(shape('proxyless'), shape('sidecar'));
});
