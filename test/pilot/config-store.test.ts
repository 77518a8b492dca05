import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createFolderConfigStore, loadConfigPaths } from '../../src/pilot/config/index.ts';
import { silentLogger, waitFor } from './support/wait.ts';

const exportDoc = (name: string): string => `apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: ${name}}
`;
const drDoc = (lb: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, trafficPolicy: {loadBalancer: {simple: ${lb}}}}
`;

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('folder store reads recursively, keeps last good objects on a broken edit, and recovers', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'nested'));
  writeFileSync(path.join(dir, 'reviews.yaml'), drDoc('RANDOM'));
  writeFileSync(path.join(dir, 'nested', 'exports.yml'), exportDoc('reviews'));
  writeFileSync(path.join(dir, 'notes.txt'), 'not config');
  const store = createFolderConfigStore(dir, silentLogger, { debounceMs: 20 });
  t.teardown(() => store.close());

  const summary = (): string[] =>
    store.list().map((o) => `${o.kind} ${o.metadata.name} ${o.kind === 'DestinationRule' ? (o.spec.trafficPolicy?.loadBalancer?.simple ?? '') : o.source}`);
  t.deepEqual(summary(), ['DestinationRule reviews RANDOM', `ServiceExport reviews ${path.join('nested', 'exports.yml')}`]);
  t.deepEqual(store.errors(), []);

  // A typo: the file's previous objects stay, the error is reported.
  writeFileSync(path.join(dir, 'reviews.yaml'), drDoc('RANDOMISH'));
  await waitFor((cb) => store.onChange(cb), () => store.errors().length > 0, 'the broken edit');
  t.deepEqual(summary(), ['DestinationRule reviews RANDOM', `ServiceExport reviews ${path.join('nested', 'exports.yml')}`]);
  t.deepEqual(store.errors().map(String), [
    'reviews.yaml: DestinationRule default/reviews: spec.trafficPolicy.loadBalancer.simple: must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM',
  ]);

  // The fix replaces the objects and clears the error.
  writeFileSync(path.join(dir, 'reviews.yaml'), drDoc('LEAST_REQUEST'));
  await waitFor((cb) => store.onChange(cb), () => store.errors().length === 0, 'the fixed edit');
  t.deepEqual(summary(), ['DestinationRule reviews LEAST_REQUEST', `ServiceExport reviews ${path.join('nested', 'exports.yml')}`]);

  // Deleting a file drops its objects.
  unlinkSync(path.join(dir, 'nested', 'exports.yml'));
  await waitFor((cb) => store.onChange(cb), () => store.list().length === 1, 'the deletion');
  t.deepEqual(summary(), ['DestinationRule reviews LEAST_REQUEST']);
});

test('folder store sees edits to a file that was replaced by rename, and files in folders made later', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'nested'));
  const file = path.join(dir, 'nested', 'reviews.yaml');
  writeFileSync(file, drDoc('RANDOM'));
  const store = createFolderConfigStore(dir, silentLogger, { debounceMs: 20 });
  t.teardown(() => store.close());
  const lb = (): string => {
    const o = store.list().find((x) => x.kind === 'DestinationRule');
    return o?.kind === 'DestinationRule' ? (o.spec.trafficPolicy?.loadBalancer?.simple ?? '') : '';
  };

  // How editors and `meshfed apply` write: a temp file renamed over the old one.
  writeFileSync(`${file}.tmp`, drDoc('ROUND_ROBIN'));
  renameSync(`${file}.tmp`, file);
  await waitFor((cb) => store.onChange(cb), () => lb() === 'ROUND_ROBIN', 'the renamed file');
  // Node 20's recursive fs.watch on Linux misses this in-place write to the renamed file.
  writeFileSync(file, drDoc('LEAST_REQUEST'));
  await waitFor((cb) => store.onChange(cb), () => lb() === 'LEAST_REQUEST', 'the in-place edit after the rename');

  mkdirSync(path.join(dir, 'later'));
  writeFileSync(path.join(dir, 'later', 'exports.yaml'), exportDoc('reviews'));
  await waitFor((cb) => store.onChange(cb), () => store.list().some((o) => o.kind === 'ServiceExport'), 'the file in a new folder');
  writeFileSync(path.join(dir, 'later', 'exports.yaml'), exportDoc('ratings'));
  await waitFor(
    (cb) => store.onChange(cb),
    () => store.list().some((o) => o.kind === 'ServiceExport' && o.metadata.name === 'ratings'),
    'the edit in the new folder',
  );
  t.deepEqual(
    store.list().map((o) => `${o.kind} ${o.metadata.name}`),
    ['DestinationRule reviews', 'ServiceExport ratings'],
  );
  t.is(lb(), 'LEAST_REQUEST');
  t.deepEqual(store.errors(), []);
});

test('folder store reports duplicates across files and keeps the first by file order', (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'a.yaml'), exportDoc('reviews'));
  writeFileSync(path.join(dir, 'b.yaml'), exportDoc('reviews'));
  const store = createFolderConfigStore(dir, silentLogger);
  t.teardown(() => store.close());
  t.deepEqual(store.list().map((o) => o.source), ['a.yaml']);
  t.deepEqual(store.errors().map(String), ['b.yaml: ServiceExport default/reviews: already defined in a.yaml']);
  t.is(store.errors()[0]?.code, 'CONFIG_DUPLICATE');
});

test('folder store on a missing folder reports an I/O error instead of throwing', (t) => {
  const dir = path.join(tempDir(t), 'absent');
  const store = createFolderConfigStore(dir, silentLogger);
  t.teardown(() => store.close());
  t.deepEqual(store.list(), []);
  t.deepEqual(store.errors().map((e) => e.code), ['CONFIG_IO']);
});

test('loadConfigPaths reads files and folders and fails with every problem', (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'cfg'));
  writeFileSync(path.join(dir, 'cfg', 'dr.yaml'), drDoc('RANDOM'));
  writeFileSync(path.join(dir, 'export.yaml'), exportDoc('ratings'));
  const good = loadConfigPaths([path.join(dir, 'cfg'), path.join(dir, 'export.yaml')]);
  t.true(good.ok);
  if (good.ok) t.deepEqual(good.value.map((o) => `${o.kind}/${o.metadata.name}`), ['DestinationRule/reviews', 'ServiceExport/ratings']);

  writeFileSync(path.join(dir, 'cfg', 'bad.yaml'), drDoc('NOPE'));
  const bad = loadConfigPaths([path.join(dir, 'cfg'), path.join(dir, 'missing.yaml')]);
  t.false(bad.ok);
  if (!bad.ok) {
    t.deepEqual(
      bad.errors.map((e) => [e.code, path.basename(e.source)]),
      [
        ['CONFIG_INVALID', 'bad.yaml'],
        ['CONFIG_IO', 'missing.yaml'],
      ],
    );
  }
});
