import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { WorkloadRegistryFile, WorkloadSpec } from '../../src/common/workload.ts';
import type { ImportedEndpoint } from '../../src/federation/federation-interface.ts';
import { createFederationRegistry, createFileRegistry, parseWorkloadRegistry, workloadEndpoint } from '../../src/pilot/registry/index.ts';
import { pollUntil, silentLogger, waitFor } from './support/wait.ts';

const workload = (name: string, more: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  name,
  namespace: 'default',
  serviceAccount: 'reviews',
  cluster: 'east',
  address: '127.0.1.1',
  labels: { app: 'reviews' },
  service: { name: 'reviews', port: 9080, protocol: 'http' },
  sidecar: true,
  ...more,
});

const file = (workloads: WorkloadSpec[], gatewayAddress?: string): WorkloadRegistryFile => ({
  cluster: 'east',
  ...(gatewayAddress ? { gatewayAddress } : {}),
  workloads,
});

const parseCases: { title: string; text: string; errors: string[] }[] = [
  { title: 'valid file', text: JSON.stringify(file([workload('reviews-v1')], '127.0.2.1')), errors: [] },
  { title: 'not JSON', text: '{', errors: ['invalid JSON: '] },
  {
    title: 'workload of another cluster',
    text: JSON.stringify(file([workload('reviews-v1', { cluster: 'west' })])),
    errors: ["workloads[0].cluster: must equal the file's cluster east"],
  },
  {
    title: 'bad port and unknown field',
    text: JSON.stringify({ ...file([workload('reviews-v1', { service: { name: 'reviews', port: 0, protocol: 'http' } })]), extra: 1 }),
    errors: ['workloads[0].service.port: ', '(root): Unrecognized key: "extra"'],
  },
  {
    title: 'duplicate workload',
    text: JSON.stringify(file([workload('reviews-v1'), workload('reviews-v1')])),
    errors: ['workloads[1].name: duplicate workload default/reviews-v1'],
  },
];

for (const c of parseCases) {
  test(`parseWorkloadRegistry: ${c.title}`, (t) => {
    const r = parseWorkloadRegistry(c.text);
    const errors = r.ok ? [] : r.errors;
    t.is(errors.length, c.errors.length, errors.join('\n'));
    for (const [i, prefix] of c.errors.entries()) t.true(errors[i]?.startsWith(prefix), `${errors[i]} should start with ${prefix}`);
  });
}

test('file registry serves one shard, follows rename-replaced edits and keeps the last good shard', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'workloads.json');
  const write = (text: string): void => {
    writeFileSync(`${target}.tmp`, text);
    renameSync(`${target}.tmp`, target);
  };
  write(JSON.stringify(file([workload('reviews-v1')], '127.0.2.1')));
  const reg = createFileRegistry(target, silentLogger, { debounceMs: 10 });
  t.teardown(() => reg.close());
  t.is(reg.name, 'file');
  const names = (): string[] => reg.shards().flatMap((s) => s.endpoints.map((e) => e.workload));
  t.deepEqual(
    reg.shards().map((s) => [s.registry, s.cluster, s.gatewayAddress, s.imported.length]),
    [['file', 'east', '127.0.2.1', 0]],
  );
  t.deepEqual(names(), ['reviews-v1']);

  write(JSON.stringify(file([workload('reviews-v1'), workload('reviews-v2', { address: '127.0.1.2' })])));
  await waitFor((cb) => reg.onChange(cb), () => names().length === 2, 'the second workload');
  t.deepEqual(names(), ['reviews-v1', 'reviews-v2']);

  write('{"cluster": "east", "workloads": [');
  await pollUntil(() => reg.errors().length > 0, 'the broken file to be rejected');
  t.true(reg.errors()[0]?.startsWith('invalid JSON'));
  t.deepEqual(names(), ['reviews-v1', 'reviews-v2']);
});

test('file registry re-read keeps the validated object of every unchanged workload and rejects a bad edit with the full parse errors', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'workloads.json');
  const write = (text: string): void => {
    writeFileSync(`${target}.tmp`, text);
    renameSync(`${target}.tmp`, target);
  };
  const three = [workload('a', { address: '127.0.1.1' }), workload('b', { address: '127.0.1.2' }), workload('c', { address: '127.0.1.3' })];
  write(JSON.stringify(file(three, '127.0.2.1')));
  const reg = createFileRegistry(target, silentLogger, { debounceMs: 10 });
  t.teardown(() => reg.close());
  const before = reg.shards()[0]?.endpoints ?? [];
  t.is(before.length, 3);

  const moved = [three[0], workload('b', { address: '127.0.1.9' }), three[2]].filter((w): w is WorkloadSpec => w !== undefined);
  write(JSON.stringify(file(moved, '127.0.2.1')));
  await waitFor((cb) => reg.onChange(cb), () => reg.shards()[0]?.endpoints[1]?.address === '127.0.1.9', 'b moved');
  const after = reg.shards()[0]?.endpoints ?? [];
  t.is(after[0], before[0], 'unchanged a: the same object');
  t.is(after[2], before[2], 'unchanged c: the same object');
  t.not(after[1], before[1]);
  t.deepEqual(after[1], workloadEndpoint(workload('b', { address: '127.0.1.9' }), 'cluster.local'));
  t.true(Object.isFrozen(after[1]) && Object.isFrozen(after[1]?.labels));

  // A bad edit next to unchanged workloads reports exactly what parseWorkloadRegistry reports.
  const bad = JSON.stringify(file([...moved, workload('a', { cluster: 'west' })], '127.0.2.1'));
  write(bad);
  await pollUntil(() => reg.errors().length > 0, 'the bad edit to be rejected');
  const full = parseWorkloadRegistry(bad);
  t.deepEqual(reg.errors(), full.ok ? [] : full.errors);
  t.is(reg.shards()[0]?.endpoints, after, 'the last good shard stays');
});

test('file registry with a missing file has no shard and an error', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-registry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const reg = createFileRegistry(path.join(dir, 'absent.json'), silentLogger);
  t.teardown(() => reg.close());
  t.deepEqual(reg.shards(), []);
  t.is(reg.errors().length, 1);
});

const imported = (cluster: string, workload: string): ImportedEndpoint => ({
  cluster,
  namespace: 'default',
  service: 'reviews',
  hostname: 'reviews.default.svc.cluster.local',
  port: 9080,
  gateway: { address: `10.0.${cluster.length}.1`, port: 15443 },
  labels: { app: 'reviews', 'topology.istio.io/cluster': cluster },
  workload,
  serviceAccount: 'reviews',
});

test('federation registry keeps one shard per remote cluster, replaced whole', (t) => {
  const reg = createFederationRegistry();
  let changes = 0;
  reg.onChange(() => changes++);
  const given = [imported('west', 'reviews-v2'), imported('west', 'reviews-v3')];
  reg.replaceCluster('west', given);
  reg.replaceCluster('north', [imported('north', 'reviews-v1')]);
  given.pop(); // the caller's array is not the shard's
  const view = (): string[][] => reg.shards().map((s) => [s.registry, s.cluster, s.gatewayAddress ?? '', ...s.imported.map((e) => e.workload)]);
  t.deepEqual(view(), [
    ['federation', 'north', '10.0.5.1', 'reviews-v1'],
    ['federation', 'west', '10.0.4.1', 'reviews-v2', 'reviews-v3'],
  ]);
  reg.replaceCluster('west', [imported('west', 'reviews-v9')]);
  reg.removeCluster('north');
  reg.removeCluster('unknown');
  t.deepEqual(view(), [['federation', 'west', '10.0.4.1', 'reviews-v9']]);
  t.is(changes, 4);
  t.true(Object.isFrozen(reg.shards()[0]?.imported));
});
