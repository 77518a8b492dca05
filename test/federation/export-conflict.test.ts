/**
 * The MCS Conflict comparison (export-conflict.ts) as tables, the tracker that feeds it from the
 * local export state and imported endpoints, and the ServiceImport's oldest-export-wins ports.
 * No network.
 */
import test from 'ava';
import {
  type ClusterExport,
  compareExports,
  createExportConflictTracker,
  type ImportedEndpoint,
  toServiceImports,
} from '../../src/federation/index.ts';
import { exportsOf } from './fixtures.ts';

const ex = (cluster: string, firstSeen: number, ports: string): ClusterExport => ({
  cluster,
  firstSeen,
  ports: ports.split(',').map((p) => {
    const [protocol, port] = p.split(':');
    return { port: Number(port), protocol: protocol as 'http' | 'tcp' | 'grpc' };
  }),
});

/** [what, exports, wanted merged ports, wanted verdicts as `cluster status reason`, message patterns per cluster]. */
const CASES: [string, ClusterExport[], string, string[], Record<string, RegExp>][] = [
  ['one cluster alone', [ex('east', 1, 'http:9080')], 'http:9080', ['east False NoConflict'], { east: /no other cluster exports/ }],
  [
    'two clusters agreeing',
    [ex('east', 1, 'http:9080'), ex('west', 2, 'http:9080')],
    'http:9080',
    ['east False NoConflict', 'west False NoConflict'],
    { east: /agrees with west/, west: /agrees with east/ },
  ],
  [
    'different port sets are a union, not a conflict',
    [ex('east', 1, 'http:9080'), ex('west', 2, 'grpc:50051')],
    'http:9080,grpc:50051',
    ['east False NoConflict', 'west False NoConflict'],
    {},
  ],
  [
    'one port with two protocols: both conflict, the oldest export wins',
    [ex('west', 1, 'tcp:9080'), ex('east', 2, 'http:9080')],
    'tcp:9080',
    ['east True PortConflict', 'west True PortConflict'],
    { east: /conflicts with west: port 9080 is declared west tcp, this cluster http; tcp of the oldest export \(west\) is used/, west: /conflicts with east/ },
  ],
  [
    'same first-seen: the cluster name breaks the tie',
    [ex('west', 5, 'tcp:9080'), ex('east', 5, 'http:9080')],
    'http:9080',
    ['east True PortConflict', 'west True PortConflict'],
    { west: /http of the oldest export \(east\) is used/ },
  ],
  [
    'three clusters, one disagreeing: every exporter is told, naming the clusters in conflict',
    [ex('a', 1, 'http:80,tcp:9000'), ex('b', 2, 'http:80'), ex('c', 3, 'grpc:80')],
    'http:80,tcp:9000',
    ['a True PortConflict', 'b True PortConflict', 'c True PortConflict'],
    { a: /conflicts with c: port 80/, b: /conflicts with c: port 80 is declared a http, this cluster http, c grpc/, c: /conflicts with a, b: port 80 is declared a http, b http, this cluster grpc/ },
  ],
];

for (const [what, exports, ports, verdicts, messages] of CASES) {
  test(`compareExports: ${what}`, (t) => {
    const got = compareExports(exports);
    t.is(got.ports.map((p) => `${p.protocol}:${p.port}`).join(','), ports);
    t.deepEqual(
      [...got.verdicts.entries()].map(([c, v]) => `${c} ${v.status} ${v.reason}`).sort(),
      verdicts,
    );
    for (const [cluster, re] of Object.entries(messages)) t.regex(got.verdicts.get(cluster)?.message ?? '', re, cluster);
  });
}

const ep = (cluster: string, service: string, port: number, protocol: ImportedEndpoint['protocol']): ImportedEndpoint => ({
  cluster,
  namespace: 'default',
  service,
  hostname: `${service}.default.svc.cluster.local`,
  port,
  ...(protocol !== undefined ? { protocol } : {}),
  gateway: { address: '127.0.0.1', port: 15443 },
  labels: {},
  workload: `${service}-0`,
  serviceAccount: service,
});

test('tracker: no verdict until this cluster exports; flips with the remote export; notifies only on change', (t) => {
  let clock = 100;
  const tracker = createExportConflictTracker({ now: () => clock });
  let calls = 0;
  tracker.onChange(() => {
    calls++;
  });
  tracker.replaceCluster('west', [ep('west', 'reviews', 9080, 'tcp')]);
  t.is(tracker.verdict('default', 'reviews'), undefined, 'not exported here: no verdict');
  t.is(calls, 0);

  clock = 200;
  tracker.updateLocal(exportsOf('east', '127.0.0.2', ['reviews']));
  t.like(tracker.verdict('default', 'reviews'), { status: 'True', reason: 'PortConflict' });
  t.regex(tracker.verdict('default', 'reviews')?.message ?? '', /conflicts with west: .*tcp of the oldest export \(west\)/);
  t.is(calls, 1);

  tracker.updateLocal(exportsOf('east', '127.0.0.2', ['reviews']));
  t.is(calls, 1, 'the same state again: no notification');

  tracker.replaceCluster('west', [ep('west', 'reviews', 9080, 'http')]);
  t.like(tracker.verdict('default', 'reviews'), { status: 'False', reason: 'NoConflict', message: 'agrees with west' });
  t.is(calls, 2);

  tracker.removeCluster('west');
  t.like(tracker.verdict('default', 'reviews'), { status: 'False', message: 'no other cluster exports this service' });

  // West comes back later with tcp: now east's export is the older one.
  clock = 300;
  tracker.replaceCluster('west', [ep('west', 'reviews', 9080, 'tcp')]);
  t.regex(tracker.verdict('default', 'reviews')?.message ?? '', /http of the oldest export \(east\)/);

  tracker.updateLocal(exportsOf('east', '127.0.0.2', []));
  t.is(tracker.verdict('default', 'reviews'), undefined, 'withdrawn here: no verdict');
});

test('toServiceImports: a conflicting port takes the protocol of the oldest export, not of the first name', (t) => {
  const byCluster = new Map([
    ['east', [ep('east', 'reviews', 9080, 'http')]],
    ['west', [ep('west', 'reviews', 9080, 'grpc')]],
  ]);
  const portsOf = (age: Record<string, number>) =>
    toServiceImports(byCluster, (c) => age[c] ?? 0)[0]?.spec.ports.map((p) => p.appProtocol);
  t.deepEqual(portsOf({ east: 2, west: 1 }), ['grpc'], 'west is older');
  t.deepEqual(portsOf({ east: 1, west: 2 }), ['http'], 'east is older');
  t.deepEqual(portsOf({}), ['http'], 'same age: name order');
});
