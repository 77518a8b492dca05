import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { ImportedEndpoint, ImportSink } from '../../src/federation/federation-interface.ts';
import { createImportFolderSink, formatImportFile, parseImportFile } from '../../src/federation/index.ts';
import { createPilot } from '../../src/pilot/index.ts';
import { readImportFolder } from '../../src/pilot/registry/import-folder-reader.ts';
import { pollUntil, silentLogger } from '../pilot/support/wait.ts';

/**
 * The imports folder between `meshfed federation` (writer) and `meshfed pilot --imports-dir`
 * (reader): real files, real fs.watch.
 */
const endpoint = (workload: string, more: Partial<ImportedEndpoint> = {}): ImportedEndpoint => ({
  cluster: 'west',
  namespace: 'default',
  service: 'ratings',
  hostname: 'ratings.default.svc.cluster.local',
  port: 9080,
  gateway: { address: '127.0.2.2', port: 15443 },
  labels: { app: 'ratings', version: 'v1', 'topology.istio.io/cluster': 'west' },
  workload,
  serviceAccount: 'ratings',
  ...more,
});

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-imports-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An ImportSink that records what the reader hands Pilot. */
function recordingSink(): ImportSink & { shards: Map<string, ImportedEndpoint[]>; calls: string[] } {
  const shards = new Map<string, ImportedEndpoint[]>();
  const calls: string[] = [];
  return {
    shards,
    calls,
    replaceCluster(cluster, endpoints) {
      calls.push(`replace ${cluster} ${endpoints.length}`);
      shards.set(cluster, endpoints);
    },
    removeCluster(cluster) {
      calls.push(`remove ${cluster}`);
      shards.delete(cluster);
    },
  };
}

const parseCases: { title: string; text: string; file: string; errors: string[] }[] = [
  { title: 'valid', text: formatImportFile('west', [endpoint('ratings-v1')]), file: 'west.json', errors: [] },
  { title: 'not JSON', text: '{"apiVersion":', file: 'west.json', errors: ['(root): invalid JSON: '] },
  {
    title: 'bad port, unknown field',
    text: JSON.stringify({ ...JSON.parse(formatImportFile('west', [endpoint('ratings-v1', { port: 0 })])), extra: true }),
    file: 'west.json',
    errors: ['extra: not a supported field', 'endpoints[0].port: '],
  },
  {
    title: 'endpoint of another cluster',
    text: formatImportFile('west', [endpoint('ratings-v1', { cluster: 'north' })]),
    file: 'west.json',
    errors: ["endpoints[0].cluster: must equal the file's cluster west"],
  },
  {
    title: 'file named after another cluster',
    text: formatImportFile('west', [endpoint('ratings-v1')]),
    file: 'north.json',
    errors: ['cluster: "west" does not match the file name north.json'],
  },
];

for (const c of parseCases) {
  test(`parseImportFile: ${c.title}`, (t) => {
    const r = parseImportFile(c.text, c.file);
    if (c.errors.length === 0) {
      t.true(r.ok);
      if (r.ok) t.deepEqual(r.value, { cluster: 'west', endpoints: [endpoint('ratings-v1')] });
      return;
    }
    t.false(r.ok);
    if (r.ok) return;
    t.is(r.errors.length, c.errors.length, r.errors.join('\n'));
    for (const want of c.errors) t.true(r.errors.some((e) => e.startsWith(want)), `${want} in ${r.errors.join(' | ')}`);
  });
}

test('what the sink writes, the reader hands on: replace, unchanged, remove', async (t) => {
  const dir = tempDir(t);
  const sink = createImportFolderSink(dir, silentLogger);
  t.teardown(() => sink.close());
  const got = recordingSink();
  const reader = readImportFolder(dir, got, silentLogger, { debounceMs: 10 });
  t.teardown(() => reader.close());

  sink.replaceCluster('west', [endpoint('ratings-v1'), endpoint('ratings-v2')]);
  await pollUntil(() => got.shards.get('west')?.length === 2, 'west imported');
  t.deepEqual(got.shards.get('west'), [endpoint('ratings-v1'), endpoint('ratings-v2')]);
  t.deepEqual(readdirSync(dir), ['west.json'], 'no temp file is left behind');

  const before = statSync(path.join(dir, 'west.json')).mtimeMs;
  sink.replaceCluster('west', [endpoint('ratings-v1'), endpoint('ratings-v2')]);
  t.is(statSync(path.join(dir, 'west.json')).mtimeMs, before, 'an unchanged shard is not written again');

  sink.replaceCluster('west', [endpoint('ratings-v1')]);
  await pollUntil(() => got.shards.get('west')?.length === 1, 'west replaced');
  sink.removeCluster('west');
  await pollUntil(() => !got.shards.has('west'), 'west removed');
  t.deepEqual(got.calls, ['replace west 2', 'replace west 1', 'remove west']);
});

test('a broken file keeps its last good imports and is reported with the path of the bad field', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'west.json'), formatImportFile('west', [endpoint('ratings-v1')]));
  const got = recordingSink();
  const reader = readImportFolder(dir, got, silentLogger, { debounceMs: 10 });
  t.teardown(() => reader.close());
  t.is(got.shards.get('west')?.length, 1, 'read at once');

  const broken = JSON.parse(formatImportFile('west', [endpoint('ratings-v1')])) as { endpoints: { gateway: { port: number } }[] };
  const first = broken.endpoints[0];
  if (first) first.gateway.port = 70000;
  writeFileSync(path.join(dir, 'west.json'), JSON.stringify(broken));
  await pollUntil(() => reader.errors().length > 0, 'error reported');
  t.regex(reader.errors()[0] ?? '', /^west\.json: endpoints\[0\]\.gateway\.port: /);
  t.deepEqual(got.shards.get('west'), [endpoint('ratings-v1')]);
  t.deepEqual(got.calls, ['replace west 1']);

  writeFileSync(path.join(dir, 'west.json'), formatImportFile('west', [endpoint('ratings-v1'), endpoint('ratings-v2')]));
  await pollUntil(() => got.shards.get('west')?.length === 2, 'repaired');
  t.deepEqual(reader.errors(), []);
});

test('imports left by an earlier run are served until the grace period, then removed unless re-imported', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'west.json'), formatImportFile('west', [endpoint('ratings-v1')]));
  writeFileSync(path.join(dir, 'north.json'), formatImportFile('north', [endpoint('ratings-v1', { cluster: 'north' })]));
  const sink = createImportFolderSink(dir, silentLogger, { leftoverGraceMs: 300 });
  t.teardown(() => sink.close());
  t.deepEqual(readdirSync(dir).sort(), ['north.json', 'west.json'], 'nothing is removed at start');
  sink.replaceCluster('west', [endpoint('ratings-v2')]);
  await pollUntil(() => !readdirSync(dir).includes('north.json'), 'north swept', 3000);
  t.deepEqual(readdirSync(dir), ['west.json']);
  t.regex(readFileSync(path.join(dir, 'west.json'), 'utf8'), /ratings-v2/);
});

test('Pilot with an imports folder routes to the remote gateway and drops the endpoints when the file goes', async (t) => {
  const dir = tempDir(t);
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify({ cluster: 'east', gatewayAddress: '127.0.1.2', workloads: [] }));
  const importsDir = path.join(dir, 'imports');
  const pilot = await createPilot({
    cluster: 'east',
    trustDomain: 'cluster.local',
    registryFile,
    configDir: path.join(dir, 'config'),
    importsDir,
    logger: silentLogger,
    debounceMs: 10,
  });
  t.teardown(() => pilot.close());
  const imported = (): string[] =>
    (pilot.snapshot().endpoints.get('ratings.default.svc.cluster.local') ?? []).map((e) =>
      e.kind === 'remote' ? `${e.cluster}/${e.workload} via ${e.gateway.address}:${e.gateway.port}` : `local ${e.workload}`,
    );
  t.deepEqual(imported(), []);
  const sink = createImportFolderSink(importsDir, silentLogger);
  t.teardown(() => sink.close());
  sink.replaceCluster('west', [endpoint('ratings-v1')]);
  await pollUntil(() => imported().length === 1, 'ratings imported');
  t.deepEqual(imported(), ['west/ratings-v1 via 127.0.2.2:15443']);
  t.deepEqual(pilot.registryErrors(), []);
  sink.removeCluster('west');
  await pollUntil(() => imported().length === 0, 'ratings withdrawn');
  t.deepEqual(imported(), []);
});
