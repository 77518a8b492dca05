import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { meshStatus } from '../../src/cli/mesh-status.ts';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { parseImportFile } from '../../src/federation/index.ts';
import { eventually, fetchText, request, samples, type FixtureMeshContext, useFixtureMesh } from './support/mesh.ts';

/**
 * The two-cluster mesh with every control-plane part as its own process (`meshfed up
 * --control-plane split`): `meshfed pilot`, `citadel`, `mixer` and `federation` per cluster, real
 * Consul, real certificates from the standalone Citadel. Addresses: 127.122.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const RATINGS = 'http://ratings.default.svc.cluster.local:9080/';

useFixtureMesh(test, { block: 122, network: 'loopback', controlPlane: 'split' });

function clusterDir(state: MeshState, name: string): string {
  return path.join(state.stateDir, 'clusters', name);
}

async function ratingsStatus(state: MeshState): Promise<number> {
  return (await request(state, 'east/default/client', RATINGS)).status;
}

test.serial('each part of each control plane runs as its own process and reports ready', async (t) => {
  const status = await meshStatus(t.context.state);
  const parts = status.components.filter((c) => ['pilot', 'citadel', 'mixer', 'federation'].includes(c.component));
  t.deepEqual(
    parts.map((c) => `${c.cluster}/${c.component}:${c.ready}`),
    ['east/pilot:true', 'east/citadel:true', 'east/mixer:true', 'east/federation:true',
     'west/pilot:true', 'west/citadel:true', 'west/mixer:true', 'west/federation:true'],
  );
  const names = t.context.mesh.processes().map((p) => p.name);
  for (const part of ['pilot', 'citadel', 'mixer', 'federation']) t.true(names.includes(`east/${part}`), part);
  t.false(names.includes('east/controlplane'));
});

test.serial("a call from east reaches west's exported service; federation fed Pilot through the imports folder", async (t) => {
  const { state } = t.context;
  const body = await eventually('ratings imported into east', async () => {
    const res = await request(state, 'east/default/client', RATINGS);
    return res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
  }, 45_000);
  t.is(body['cluster'], 'west');
  t.is(body['peer'], 'spiffe://cluster.local/ns/default/sa/client');

  const file = path.join(clusterDir(state, 'east'), 'imports', 'west.json');
  const parsed = parseImportFile(await readFile(file, 'utf8'), 'west.json');
  if (!parsed.ok) return t.fail(parsed.errors.join('\n'));
  const west = state.clusters.find((c) => c.name === 'west');
  t.deepEqual(
    [...new Set(parsed.value.endpoints.map((e) => `${e.hostname} via ${e.gateway.address}:${e.gateway.port}`))].sort(),
    [`ratings.default.svc.cluster.local via ${west?.gateway.address}`, `reviews.default.svc.cluster.local via ${west?.gateway.address}`],
  );
  const configz = JSON.parse(await fetchText(`${state.clusters[0]?.controlPlane.monitoring}/debug/configz`)) as { registryErrors: string[] };
  t.deepEqual(configz.registryErrors, []);
});

test.serial("the standalone Mixer counts the call from its sidecars' access logs", async (t) => {
  const west = t.context.state.clusters.find((c) => c.name === 'west');
  const url = west?.controlPlane.split?.mixerMetrics;
  if (!url) return t.fail('no standalone mixer in state.json');
  await ratingsStatus(t.context.state);
  const sum = await eventually('mixer metrics', async () => {
    const found = samples(await fetchText(url), 'meshfed_mesh_requests_total', { source_cluster: 'east', destination_cluster: 'west', reporter: 'destination' });
    return found.length > 0 ? found.reduce((a, b) => a + b, 0) : undefined;
  });
  t.true(sum >= 1);
});

test.serial('withdrawing the ServiceExport in west reaches east through Consul, federation and Pilot', async (t) => {
  const { state } = t.context;
  const exports = path.join(clusterDir(state, 'west'), 'config', 'source', '0-west', 'exports.yaml');
  const original = await readFile(exports, 'utf8');
  t.teardown(() => writeFile(exports, original));
  const without = original.replace(/---\napiVersion: multicluster\.x-k8s\.io\/v1alpha1\nkind: ServiceExport\nmetadata: \{ name: ratings, namespace: default \}\n/, '');
  t.not(without, original, 'the fixture exports ratings');
  t.is(await ratingsStatus(state), 200);

  await writeFile(`${exports}.tmp`, without);
  await rename(`${exports}.tmp`, exports);
  await eventually('ratings withdrawn from east', async () => ((await ratingsStatus(state)) === 404 ? true : undefined), 20_000);
  const imports = await readFile(path.join(clusterDir(state, 'east'), 'imports', 'west.json'), 'utf8');
  t.notRegex(imports, /"service": "ratings"/);

  await writeFile(exports, original);
  await eventually('ratings exported again', async () => ((await ratingsStatus(state)) === 200 ? true : undefined), 20_000);
  t.regex(await readFile(path.join(clusterDir(state, 'east'), 'imports', 'west.json'), 'utf8'), /"service": "ratings"/);
});

test.serial("a crashed federation controller does not take Pilot down: east keeps serving west's imports", async (t) => {
  const { mesh, state } = t.context;
  const federation = mesh.processes().find((p) => p.name === 'east/federation');
  if (!federation) return t.fail('no east/federation process');
  process.kill(federation.pid, 'SIGKILL');
  await federation.exited;
  const counts = { ok: 0, other: 0 };
  for (let i = 0; i < 20; i++) {
    if ((await ratingsStatus(state)) === 200) counts.ok++;
    else counts.other++;
  }
  t.deepEqual(counts, { ok: 20, other: 0 });
  const ready = await fetchText(`${state.clusters[0]?.controlPlane.monitoring}/ready`);
  t.regex(ready, /"ready": true/);
});

test.serial('with Pilot, Citadel and Mixer gone too, sidecars keep routing on their last config and certificates', async (t) => {
  const { mesh, state } = t.context;
  const parts = ['east/pilot', 'east/citadel', 'east/mixer', 'west/pilot', 'west/citadel', 'west/mixer'];
  for (const name of parts) {
    const p = mesh.processes().find((x) => x.name === name);
    if (!p) return t.fail(`no ${name} process`);
    process.kill(p.pid, 'SIGKILL');
    await p.exited;
  }
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) statuses.push(await ratingsStatus(state));
  t.deepEqual(statuses, Array(20).fill(200));
  const body = JSON.parse((await request(state, 'east/default/client', RATINGS)).body) as Record<string, unknown>;
  t.is(body['peer'], 'spiffe://cluster.local/ns/default/sa/client', 'still mutual TLS with the caller\'s identity');
  // Case 23: the operator sees it. The client's sidecar reports Pilot lost, and the age of its config.
  const metrics = state.clusters.flatMap((c) => c.workloads).find((w) => w.cluster === 'east' && w.name === 'client')?.sidecar?.metrics;
  if (!metrics) return t.fail('no metrics address for east/default/client');
  const text = await eventually('east/default/client reports envoy_control_plane_connected_state 0', async () => {
    const page = await fetchText(metrics);
    return /^envoy_control_plane_connected_state(\{[^}]*\})? 0$/m.test(page) ? page : undefined;
  });
  const age = Number(/^meshfed_xds_seconds_since_last_config(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1]);
  t.true(age > 0, `meshfed_xds_seconds_since_last_config is ${age}`);
});
