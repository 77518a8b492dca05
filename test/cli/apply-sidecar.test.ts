import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { type MeshState, writeState } from '../../src/cli/runner/state-file.ts';
import { meshfed } from '../support/cli.ts';

/**
 * `meshfed apply` of an Istio Sidecar as a user runs it (a real child process), against a
 * state.json of a mesh whose components are not running (addresses 127.67.1.x answer nothing).
 */
async function fakeMesh(t: import('ava').ExecutionContext): Promise<MeshState> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'meshfed-cli-sidecar-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const state: MeshState = {
    name: 'cli', runnerPid: process.pid, stateDir, trustDomain: 'cluster.local', discovery: 'memory', network: 'loopback', memoryDiscovery: null,
    clusters: [{
      name: 'east', netns: null, configDir: path.join(stateDir, 'config'),
      controlPlane: { address: '127.67.1.1', xds: '127.67.1.1:15010', xdsTls: '127.67.1.1:15012', monitoring: 'http://127.67.1.1:15014' },
      gateway: { address: '127.67.1.2:15443', admin: 'http://127.67.1.2:15000', metrics: 'http://127.67.1.2:15090/stats/prometheus' },
      consul: null, workloads: [],
    }],
  };
  await writeState(state);
  return state;
}

const sidecar = (policy: string): string =>
  `apiVersion: networking.istio.io/v1beta1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\nspec:\n  egress:\n  - hosts: ["./*", "istio-system/*"]\n  outboundTrafficPolicy: {mode: ${policy}}\n`;

test('apply writes a Sidecar into the cluster config folder', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'sidecar.yaml');
  await writeFile(file, sidecar('REGISTRY_ONLY'));
  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /sidecar\/shop\/default created in cluster east/);
  t.deepEqual(await readdir(path.join(state.stateDir, 'config', 'applied')), ['sidecar.shop.default.yaml']);
});

test('apply writes a Sidecar with ALLOW_ANY (Pilot applies it to capture proxies)', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'sidecar.yaml');
  await writeFile(file, sidecar('ALLOW_ANY'));
  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(await readdir(path.join(state.stateDir, 'config', 'applied')), ['sidecar.shop.default.yaml']);
});

test('apply refuses a Sidecar with an unknown outbound traffic policy, naming the field, and applies nothing', async (t) => {
  const state = await fakeMesh(t);
  const file = path.join(state.stateDir, 'sidecar.yaml');
  await writeFile(file, sidecar('OPEN'));
  const r = await meshfed(['apply', '--state-dir', state.stateDir, '--cluster', 'east', '-f', file]);
  t.not(r.code, 0);
  t.regex(r.stderr, /spec\.outboundTrafficPolicy\.mode/);
  t.regex(r.stderr, /must be REGISTRY_ONLY or ALLOW_ANY/);
  t.deepEqual(await readdir(path.join(state.stateDir, 'config', 'applied')).catch(() => []), []);
});
