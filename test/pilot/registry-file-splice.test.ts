import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { WorkloadSpec } from '../../src/common/workload.ts';
import { createFileRegistry, parseWorkloadRegistry } from '../../src/pilot/registry/index.ts';
import { scanLayout, spliceWorkloads } from '../../src/pilot/registry/registry-file-splice.ts';
import { pollUntil, silentLogger } from './support/wait.ts';

/**
 * The file registry re-parses only the workloads a rewrite touched (registry-file-splice.ts). Each
 * row edits a file's text; the splice must give exactly what JSON.parse of the whole new text
 * gives (the spliced array, and a layout equal to a fresh scan), or decline (undefined) when the
 * edit is not confined to the array's elements or the result is not valid JSON.
 */

const w = (i: number, address = `127.0.1.${i + 1}`): WorkloadSpec => ({
  name: `w${i}`,
  namespace: 'default',
  serviceAccount: 'svc',
  cluster: 'east',
  address,
  labels: { app: `svc${i % 3}`, note: i === 2 ? 'quote " and \\ and ] and }' : 'ünïcode' },
  service: { name: `svc${i % 3}`, port: 9080, protocol: 'http' },
  sidecar: true,
});
const list = (n: number): WorkloadSpec[] => Array.from({ length: n }, (_, i) => w(i));
const compact = (ws: unknown[], extra: Record<string, unknown> = {}): string => JSON.stringify({ cluster: 'east', gatewayAddress: '127.0.2.1', workloads: ws, ...extra });
const pretty = (ws: unknown[]): string => JSON.stringify({ cluster: 'east', workloads: ws }, null, 2);
const BASE = list(6);

interface Row {
  title: string;
  before: string;
  after: string;
  /** The splice must decline (the caller parses the whole file). */
  declines?: boolean;
  /** At most this many old elements are re-read (default 2: the edited one and a neighbour). */
  reread?: number;
}

const moved = BASE.map((x, i) => (i === 3 ? w(3, '127.0.9.9') : x));
const rows: Row[] = [
  { title: 'a moved replica', before: compact(BASE), after: compact(moved) },
  { title: 'a moved replica, pretty-printed', before: pretty(BASE), after: pretty(moved) },
  { title: 'the first workload changed', before: compact(BASE), after: compact([w(0, '127.0.9.1'), ...BASE.slice(1)]) },
  { title: 'the last workload changed', before: compact(BASE), after: compact([...BASE.slice(0, 5), w(5, '127.0.9.6')]) },
  { title: 'a workload added at the start', before: compact(BASE), after: compact([w(9), ...BASE]) },
  { title: 'a workload added in the middle', before: compact(BASE), after: compact([...BASE.slice(0, 3), w(9), ...BASE.slice(3)]) },
  { title: 'a workload added at the end', before: compact(BASE), after: compact([...BASE, w(9)]) },
  { title: 'the first workload removed', before: compact(BASE), after: compact(BASE.slice(1)) },
  { title: 'a middle workload removed', before: compact(BASE), after: compact([...BASE.slice(0, 2), ...BASE.slice(3)]) },
  { title: 'the last workload removed', before: compact(BASE), after: compact(BASE.slice(0, 5)) },
  { title: 'every workload removed', before: compact(BASE), after: compact([]), reread: 6 },
  { title: 'workloads added to an empty list', before: compact([]), after: compact(list(2)) },
  { title: 'two far-apart workloads changed', before: compact(BASE), after: compact([w(0, '127.0.9.1'), ...BASE.slice(1, 5), w(5, '127.0.9.6')]), reread: 6 },
  { title: 'white space between workloads', before: pretty(BASE), after: pretty(BASE).replace('},\n    {', '},\n\n      {') },
  { title: 'a non-object element (valid JSON; the schema rejects it later)', before: compact(BASE), after: compact([...BASE.slice(0, 2), 42, ...BASE.slice(3)]) },
  { title: 'the head changed (cluster)', before: compact(BASE), after: compact(BASE).replace('"cluster":"east","gatewayAddress"', '"cluster":"west","gatewayAddress"'), declines: true },
  { title: 'a key added after the array', before: compact(BASE), after: compact(BASE, { extra: 1 }), declines: true },
  { title: 'a broken element', before: compact(BASE), after: compact(BASE).replace('"name":"w3",', '"name":"w3"'), declines: true },
  { title: 'a separator removed', before: compact(BASE), after: compact(BASE).replace('},{"name":"w4"', '}{"name":"w4"'), declines: true },
  { title: 'the array closed early', before: compact(BASE), after: compact(BASE).replace('},{"name":"w4"', '}],[{"name":"w4"'), declines: true },
  { title: 'an empty element between two', before: compact(BASE), after: compact(BASE).replace('},{"name":"w4"', '},,{"name":"w4"'), declines: true },
  { title: 'a trailing comma', before: compact(BASE), after: compact(BASE).replace('}]}', '},]}'), declines: true },
];

for (const row of rows) {
  test(`registry file splice: ${row.title}`, (t) => {
    const before = Buffer.from(row.before);
    const after = Buffer.from(row.after);
    const layout = scanLayout(before);
    if (!layout) return t.fail('the base file has a layout');
    const splice = spliceWorkloads(before, layout, after);
    let whole: unknown;
    try {
      whole = JSON.parse(row.after);
    } catch {
      whole = undefined;
    }
    if (row.declines === true) {
      t.is(splice, undefined);
      return;
    }
    if (!splice) return t.fail('the splice applies');
    const old = (JSON.parse(row.before) as { workloads: unknown[] }).workloads;
    const spliced = [...old.slice(0, splice.from), ...splice.values, ...old.slice(splice.to)];
    t.deepEqual(spliced, (whole as { workloads: unknown[] }).workloads, 'the same workloads as a whole parse');
    t.deepEqual(splice.layout, scanLayout(after), 'the same layout as a fresh scan');
    t.true(splice.to - splice.from <= (row.reread ?? 2), `re-read ${splice.to - splice.from} of ${old.length}`);
  });
}

test('registry file layout: only a plain object with one workloads array has one', (t) => {
  t.truthy(scanLayout(Buffer.from(compact(BASE))));
  t.is(scanLayout(Buffer.from(`${compact(BASE).slice(0, -1)},"workloads":[]}`)), undefined, 'two workloads keys');
  t.is(scanLayout(Buffer.from('[1,2]')), undefined, 'not an object');
  t.is(scanLayout(Buffer.from('{"workloads":{}}')), undefined, 'not an array');
  t.is(scanLayout(Buffer.from(`\ufeff${compact(BASE)}`)), undefined, 'a byte-order mark (JSON.parse rejects it)');
});

const many = (n: number, edit?: (i: number) => WorkloadSpec | undefined): string =>
  compact(Array.from({ length: n }, (_, i) => (edit ? edit(i) : undefined) ?? w(i)).filter((x) => x !== undefined));

test('file registry rewrites: the shard equals a fresh read, untouched workloads keep their endpoint objects, bad edits report the full parse errors', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-splice-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'workloads.json');
  writeFileSync(file, many(40));
  const reg = createFileRegistry(file, silentLogger, { debounceMs: 10 });
  t.teardown(() => reg.close());
  const steps: { title: string; text: string; errors?: boolean }[] = [
    { title: 'moved', text: many(40, (i) => (i === 17 ? w(17, '127.0.9.17') : undefined)) },
    { title: 'added', text: `${many(40, (i) => (i === 17 ? w(17, '127.0.9.17') : undefined)).slice(0, -2)},${JSON.stringify(w(40))}]}` },
    { title: 'invalid workload (bad port)', text: many(40).replace('"port":9080', '"port":0'), errors: true },
    { title: 'duplicate workload', text: many(40).replace('"name":"w5"', '"name":"w6"'), errors: true },
    { title: 'another cluster in one workload', text: many(40).replace('"cluster":"east","address":"127.0.1.9"', '"cluster":"west","address":"127.0.1.9"'), errors: true },
    { title: 'back to the original', text: many(40) },
  ];
  for (const step of steps) {
    const before = reg.shards()[0];
    const changed = new Promise<void>((resolve) => reg.onChange(() => resolve()));
    writeFileSync(file, step.text);
    const full = parseWorkloadRegistry(step.text);
    if (step.errors === true) {
      const expected = full.ok ? [] : full.errors;
      t.true(expected.length > 0, `${step.title}: the text is invalid`);
      await pollUntil(() => JSON.stringify(reg.errors()) === JSON.stringify(expected), `${step.title}: the errors of a full parse`);
      t.deepEqual(reg.errors(), expected, `${step.title}: the errors of a full parse`);
      t.is(reg.shards()[0], before, `${step.title}: the last good shard stays`);
      continue;
    }
    await changed;
    const fresh = createFileRegistry(file, silentLogger);
    const expected = fresh.shards()[0];
    fresh.close();
    const shard = reg.shards()[0];
    t.deepEqual(shard, expected, `${step.title}: the shard of a fresh read`);
    t.deepEqual(reg.errors(), []);
    const prev = new Map((before?.endpoints ?? []).map((e) => [e.workload, e]));
    let kept = 0;
    for (const e of shard?.endpoints ?? []) {
      const p = prev.get(e.workload);
      if (p !== undefined && p.address === e.address && p.cluster === e.cluster) {
        t.is(e, p, `${step.title}: ${e.workload} keeps its endpoint object`);
        kept++;
      }
    }
    t.true(kept >= 38, `${step.title}: ${kept} endpoints kept`);
  }
});

test('file registry change listeners learn when the file was last written (Pilot counts its quiet period from there)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-splice-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'workloads.json');
  writeFileSync(file, many(3));
  const reg = createFileRegistry(file, silentLogger, { debounceMs: 10 });
  t.teardown(() => reg.close());
  const change = new Promise<{ lastEventAt: number | undefined; settledAt: number }>((resolve) =>
    reg.onChange((c) => resolve({ lastEventAt: c?.lastEventAt, settledAt: Date.now() })),
  );
  const writtenAt = Date.now();
  writeFileSync(file, many(4));
  const { lastEventAt, settledAt } = await change;
  if (lastEventAt === undefined) return t.fail('a lastEventAt');
  t.true(lastEventAt >= writtenAt && lastEventAt <= settledAt, `${writtenAt} <= ${lastEventAt} <= ${settledAt}`);
});
