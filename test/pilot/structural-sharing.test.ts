import test from 'ava';
import { sameData } from '../../src/common/same-data.ts';
import { buildSnapshot, type SnapshotInput } from '../../src/pilot/model/build-snapshot.ts';
import type { WorkloadSpec } from '../../src/common/workload.ts';
import { workloadShard } from '../../src/pilot/registry/index.ts';

const spec = (name: string, address: string): WorkloadSpec =>
  Object.freeze({
    name,
    namespace: 'default',
    serviceAccount: 'reviews',
    cluster: 'east',
    address,
    labels: Object.freeze({ app: 'reviews' }),
    service: Object.freeze({ name: 'reviews', port: 9080, protocol: 'http' as const }),
    sidecar: true,
  });

const input = (workloads: WorkloadSpec[], version: string): SnapshotInput => ({
  cluster: 'east',
  trustDomain: 'cluster.local',
  domainSuffix: 'cluster.local',
  shards: [workloadShard({ registry: 'file', cluster: 'east', workloads, domainSuffix: 'cluster.local' })],
  config: [],
  version,
});

const H = 'reviews.default.svc.cluster.local';

test('buildSnapshot shares unchanged services and endpoint lists with the previous snapshot, and keeps one endpoint object per workload object', (t) => {
  const a = spec('a', '127.0.1.1');
  const b = spec('b', '127.0.1.2');
  const s1 = buildSnapshot(input([a, b], 'v1'));
  // Equal data from new objects: shared by value.
  const s2 = buildSnapshot({ ...input([spec('a', '127.0.1.1'), spec('b', '127.0.1.2')], 'v2'), previous: s1 });
  t.is(s2.endpoints.get(H), s1.endpoints.get(H));
  t.is(s2.services.get(H), s1.services.get(H));
  t.is(s2.workloads.get('east/default/a'), s1.workloads.get('east/default/a'));
  // One workload moves: its service's list is new; the unchanged workload keeps its endpoint object.
  const s3 = buildSnapshot({ ...input([a, spec('b', '127.0.1.9')], 'v3'), previous: s2 });
  t.not(s3.endpoints.get(H), s2.endpoints.get(H));
  t.is(s3.endpoints.get(H)?.[0], s1.endpoints.get(H)?.[0], 'the same WorkloadSpec object gives the same endpoint object');
  const moved = s3.endpoints.get(H)?.[1];
  t.is(moved?.kind === 'local' ? moved.address : '', '127.0.1.9');
  t.is(s3.services.get(H), s1.services.get(H));
  // Without a previous snapshot nothing is shared.
  t.not(buildSnapshot(input([a, b], 'v4')).endpoints.get(H), s1.endpoints.get(H));
});

const dataCases: [string, unknown, unknown, boolean][] = [
  ['equal nested data', { a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] }, true],
  ['key order aside', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
  ['an undefined value is an absent key (as in JSON)', { a: 1, b: undefined }, { a: 1 }, true],
  ['a differing leaf', { a: [1, { b: 'x' }] }, { a: [1, { b: 'y' }] }, false],
  ['a missing key', { a: 1, b: 2 }, { a: 1 }, false],
  ['array length', [1, 2], [1], false],
  ['array vs object', [], {}, false],
  ['null vs object', null, {}, false],
];
for (const [title, a, b, same] of dataCases) {
  test(`sameData: ${title}`, (t) => {
    t.is(sameData(a, b), same);
    t.is(sameData(b, a), same);
  });
}
