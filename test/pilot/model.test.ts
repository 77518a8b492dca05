import test from 'ava';
import { buildSnapshot, endpointsFor, exportState, ownEndpoints } from '../../src/pilot/model/index.ts';
import { SnapshotBuilder } from './support/snapshot-builder.ts';

const CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: west, labels: {topology.istio.io/cluster: west}}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: plain}
`;

function richBuilder(): SnapshotBuilder {
  return new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('productpage-v1', 'productpage', 9080)
    .workload('plain-v1', 'plain', 8080, { sidecar: false })
    .imported('west', '10.1.0.1', 'reviews-v2', 'reviews', 9080, { version: 'v2' })
    .imported('west', '10.1.0.1', 'reviews-v3', 'reviews', 9080, { version: 'v3' })
    .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080)
    .imported('east', '127.0.2.1', 'reviews-v1', 'reviews', 9080, { version: 'v1' })
    .yaml(CONFIG);
}

test('snapshot aggregates services and endpoints across local and imported shards', (t) => {
  const snap = richBuilder().build('v7');
  t.is(snap.version, 'v7');
  t.deepEqual([...snap.services.keys()], [
    'plain.default.svc.cluster.local',
    'productpage.default.svc.cluster.local',
    'ratings.default.svc.cluster.local',
    'reviews.default.svc.cluster.local',
  ]);
  const reviews = snap.endpoints.get('reviews.default.svc.cluster.local') ?? [];
  t.deepEqual(
    reviews.map((e) => [e.kind, e.registry, e.cluster, e.workload, e.labels['topology.istio.io/cluster'], e.labels['version']]),
    [
      ['local', 'file', 'east', 'reviews-v1', 'east', 'v1'],
      ['remote', 'federation', 'west', 'reviews-v2', 'west', 'v2'],
      ['remote', 'federation', 'west', 'reviews-v3', 'west', 'v3'],
    ],
    'the imported copy of east itself is ignored',
  );
  const local = reviews[0];
  t.deepEqual(local?.kind === 'local' ? [local.address, local.port, local.sidecar, local.serviceAccount, local.namespace] : [], [
    '127.0.1.1',
    9080,
    true,
    'reviews',
    'default',
  ]);
  const remote = reviews[1];
  t.deepEqual(remote?.kind === 'remote' ? remote.gateway : undefined, { address: '10.1.0.1', port: 15443 });
  t.deepEqual(snap.services.get('ratings.default.svc.cluster.local')?.ports, [{ port: 9080, protocol: 'http' }]);
  t.deepEqual([...snap.exported], ['plain.default.svc.cluster.local', 'reviews.default.svc.cluster.local']);
  t.is(snap.destinationRules.get('reviews.default.svc.cluster.local')?.spec.subsets.length, 2);
  t.true(Object.isFrozen(snap));
  t.true(Object.isFrozen(reviews));
});

const subsetCases: [string, number, string, string[]][] = [
  ['reviews.default.svc.cluster.local', 9080, '', ['reviews-v1', 'reviews-v2', 'reviews-v3']],
  ['reviews.default.svc.cluster.local', 9080, 'v1', ['reviews-v1']],
  ['reviews.default.svc.cluster.local', 9080, 'west', ['reviews-v2', 'reviews-v3']],
  ['reviews.default.svc.cluster.local', 9080, 'nope', []],
  ['reviews.default.svc.cluster.local', 9999, '', []],
  ['ratings.default.svc.cluster.local', 9080, '', ['ratings-v1']],
];
for (const [host, port, subset, expected] of subsetCases) {
  test(`endpointsFor ${host}:${port} subset '${subset}'`, (t) => {
    t.deepEqual(endpointsFor(richBuilder().build(), host, port, subset).map((e) => e.workload), expected);
  });
}

test('a proxy finds its own workload by cluster, namespace and name', (t) => {
  const snap = richBuilder().build();
  t.deepEqual(ownEndpoints(snap, { cluster: 'east', namespace: 'default', workload: 'reviews-v1' }).map((e) => e.port), [9080]);
  t.deepEqual(ownEndpoints(snap, { cluster: 'west', namespace: 'default', workload: 'reviews-v2' }), []);
});

test('exportState lists exported services with local sidecar endpoints only', (t) => {
  t.deepEqual(exportState(richBuilder().build()), {
    cluster: 'east',
    gateway: { address: '127.0.2.1', port: 15443 },
    exports: [
      {
        namespace: 'default',
        name: 'reviews',
        hostname: 'reviews.default.svc.cluster.local',
        ports: [{ port: 9080, protocol: 'http' }],
        endpoints: [
          {
            workload: 'reviews-v1',
            serviceAccount: 'reviews',
            labels: { app: 'reviews', version: 'v1', 'topology.istio.io/cluster': 'east' },
          },
        ],
      },
    ],
  });
});

test('exportState without a gateway exports nothing', (t) => {
  const snap = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080).yaml(CONFIG).build();
  t.deepEqual(exportState(snap), { cluster: 'east', gateway: { address: '', port: 15443 }, exports: [] });
});

test('identical input gives an identical snapshot whatever the shard and config order', (t) => {
  const b = richBuilder();
  const base = b.build();
  const config = [...base.virtualServices.values(), ...base.destinationRules.values()];
  const input = { cluster: 'east', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', gatewayAddress: '127.0.2.1', version: 'v1' };
  const forward = buildSnapshot({ ...input, shards: b.shards(), config });
  const backward = buildSnapshot({ ...input, shards: [...b.shards()].reverse(), config: [...config].reverse() });
  const dump = (s: typeof forward): string =>
    JSON.stringify([[...s.services], [...s.endpoints], [...s.destinationRules], [...s.workloads]]);
  t.is(dump(backward), dump(forward));
  t.is(forward.endpoints.get('reviews.default.svc.cluster.local')?.length, 3);
});
