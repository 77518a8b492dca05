import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { type MeshState, writeState } from '../../src/cli/runner/state-file.ts';
import { meshfed } from '../support/cli.ts';

/**
 * `meshfed delete -f` as a user runs it (the compiled CLI), against the state.json of a mesh whose
 * components are not running: what it does to the watched config folder is what Pilot sees.
 * Binds nothing (the addresses 127.67.2.x are only written into the state file).
 */
async function fakeMesh(t: import('ava').ExecutionContext): Promise<MeshState> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshfed-cli-delete-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const state: MeshState = {
    name: 'cli', runnerPid: process.pid, stateDir, trustDomain: 'cluster.local', discovery: 'memory', network: 'loopback', memoryDiscovery: null,
    clusters: [{
      name: 'east', netns: null, configDir: path.join(stateDir, 'config'),
      controlPlane: { address: '127.67.2.1', xds: '127.67.2.1:15010', xdsTls: '127.67.2.1:15012', monitoring: 'http://127.67.2.1:15014' },
      gateway: { address: '127.67.2.2:15443', admin: 'http://127.67.2.2:15000', metrics: 'http://127.67.2.2:15090/stats/prometheus' },
      consul: null, workloads: [],
    }],
  };
  await writeState(state);
  return state;
}

const vs = (name: string) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}}\nspec:\n  hosts: [${name}]\n  http:\n  - route: [{destination: {host: ${name}}}]\n`;

test('delete takes an applied object out, then reports it not found (exit 1) unless --ignore-not-found', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'vs.yaml');
  await writeFile(file, vs('reviews'));
  const applied = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(applied.code, 0, applied.stderr);
  const gone = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(gone.code, 0, gone.stderr);
  t.is(gone.stdout, 'virtualservice/default/reviews deleted from cluster east\n');
  t.deepEqual(await readdir(path.join(state.stateDir, 'config', 'applied')), []);
  const again = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(again.code, 1);
  t.regex(again.stderr, /virtualservice\/default\/reviews not found in cluster east/);
  const ignored = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file, '--ignore-not-found']);
  t.is(ignored.code, 0, ignored.stderr);
});

test('delete takes an object out of the topology config file it came from and keeps the other documents', async (t) => {
  const state = await fakeMesh(t);
  const source = path.join(state.stateDir, 'config', 'source');
  await mkdir(source, { recursive: true });
  await writeFile(path.join(source, 'both.yaml'), `${vs('reviews')}---\n${vs('ratings')}`);
  const file = path.join(state.stateDir, 'delete.yaml');
  // Only kind and name matter to delete: a spec that would not validate does not stop it.
  await writeFile(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\nspec: {bogus: 1}\n');
  const r = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'virtualservice/default/ratings deleted from cluster east\n');
  const left = await readFile(path.join(source, 'both.yaml'), 'utf8');
  t.regex(left, /name: reviews/);
  t.notRegex(left, /name: ratings/);
});

test('delete refuses a document without kind or name, and an unknown cluster, deleting nothing', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'bad.yaml');
  await writeFile(file, 'apiVersion: networking.istio.io/v1\nmetadata: {name: x}\n');
  const r = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.not(r.code, 0);
  t.regex(r.stderr, /document 1: kind and metadata.name are required/);
  const c = await meshfed(['delete', '--state-dir', state.stateDir, '--cluster', 'nowhere', '-f', file]);
  t.not(c.code, 0);
  t.regex(c.stderr, /no cluster "nowhere"/);
});
