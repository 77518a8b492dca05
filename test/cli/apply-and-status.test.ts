import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadConfigPaths } from '../../src/pilot/index.ts';
import { meshfed } from '../support/cli.ts';
import { type MeshState, writeState } from '../../src/cli/runner/state-file.ts';

/**
 * The `meshfed apply` and `status` commands as a user runs them (a real child process), against a
 * state.json of a mesh whose components are not running (addresses 127.63.1.x answer nothing).
 */
async function fakeMesh(t: import('ava').ExecutionContext): Promise<MeshState> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshfed-cli-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const state: MeshState = {
    name: 'cli', runnerPid: process.pid, stateDir, trustDomain: 'cluster.local', discovery: 'memory', network: 'loopback', memoryDiscovery: null,
    clusters: [{
      name: 'east', netns: null, configDir: path.join(stateDir, 'config'),
      controlPlane: { address: '127.63.1.1', xds: '127.63.1.1:15010', xdsTls: '127.63.1.1:15012', monitoring: 'http://127.63.1.1:15014' },
      gateway: { address: '127.63.1.2:15443', admin: 'http://127.63.1.2:15000', metrics: 'http://127.63.1.2:15090/stats/prometheus' },
      consul: null, workloads: [],
    }],
  };
  await writeState(state);
  return state;
}

test('apply rejects a bad field with its path, exits non-zero and applies nothing', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'bad.yaml');
  await writeFile(file, [
    'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: { name: reviews, namespace: default }',
    'spec:', '  hosts: [reviews]', '  http:', '  - route:',
    '    - { destination: { host: reviews, subset: v1 }, weight: 90 }',
    '    - { destination: { host: reviews, subset: v2 }, wieght: 10 }',
  ].join('\n'));
  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.not(r.code, 0);
  t.regex(r.stderr, /spec\.http\[0\]\.route\[1\]\.wieght/);
  const applied = await readdir(path.join(state.stateDir, 'config', 'applied')).catch(() => []);
  t.deepEqual(applied, []);
});

test('apply writes a valid object into the cluster config folder', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'export.yaml');
  await writeFile(file, 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: reviews, namespace: default }\n');
  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /serviceexport\/default\/reviews created in cluster east/);
  t.deepEqual(await readdir(path.join(state.stateDir, 'config', 'applied')), ['serviceexport.default.reviews.yaml']);
  const unknown = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'north', '-f', file]);
  t.not(unknown.code, 0);
  t.regex(unknown.stderr, /no cluster "north"/);
});

test('apply replaces an object from the topology config instead of defining it twice', async (t) => {
  const state = await fakeMesh(t);
  const sourceDir = path.join(state.stateDir, 'config', 'source', '0-west');
  await mkdir(sourceDir, { recursive: true });
  const exportDoc = 'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: ratings, namespace: default }\n';
  const drDoc = (lb: string): string =>
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: reviews, namespace: default }\nspec: { host: reviews, trafficPolicy: { loadBalancer: { simple: ${lb} } } }\n`;
  await writeFile(path.join(sourceDir, 'all.yaml'), `${exportDoc}---\n${drDoc('RANDOM')}`);
  await writeFile(path.join(sourceDir, 'only-dr.yaml'), drDoc('RANDOM').replace('name: reviews', 'name: reviews-copy'));
  const file = path.join(state.stateDir, 'dr.yaml');
  await writeFile(file, drDoc('ROUND_ROBIN'));

  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /destinationrule\/default\/reviews configured in cluster east/);
  const source = await readFile(path.join(sourceDir, 'all.yaml'), 'utf8');
  t.regex(source, /kind: ServiceExport/);
  t.notRegex(source, /kind: DestinationRule/);
  t.regex(await readFile(path.join(sourceDir, 'only-dr.yaml'), 'utf8'), /reviews-copy/, 'other objects stay');
  const all = loadConfigPaths([path.join(state.stateDir, 'config')]);
  if (!all.ok) return t.fail(all.errors.map(String).join('\n'));
  t.deepEqual(
    all.value.map((o) => `${o.kind}/${o.metadata.name}${o.kind === 'DestinationRule' ? ` ${o.spec.trafficPolicy?.loadBalancer?.simple ?? ''}` : ''}`).sort(),
    ['DestinationRule/reviews ROUND_ROBIN', 'DestinationRule/reviews-copy RANDOM', 'ServiceExport/ratings'],
  );
});

test('status reports components that do not answer and exits non-zero', async (t) => {
  const state = await fakeMesh(t);
  const r = await meshfed(['status', '--state-dir', state.stateDir, '--json']);
  t.is(r.code, 3);
  const s = JSON.parse(r.stdout) as { allReady: boolean; components: { component: string; ready: boolean }[] };
  t.false(s.allReady);
  t.deepEqual(s.components.map((c) => [c.component, c.ready]), [['controlplane', false], ['gateway', false]]);
});
