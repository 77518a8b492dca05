import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import anyTest, { type TestFn } from 'ava';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { applyYaml, eventually, type FixtureMeshContext, request, processRecipe, useFixtureMesh, waitExit } from './support/mesh.ts';

/**
 * Remote endpoints balanced and ejected one by one through the gateway (beyond Istio, whose
 * sidecars see one gateway endpoint per remote cluster: istio/istio#52435). Real processes, real
 * Consul: east's client calls reviews, whose two pods (reviews-w1, reviews-w2) run in west behind
 * west's east-west gateway. Each is its own endpoint in east's sidecar, reached with its own
 * endpoint-qualified SNI over its own pooled mTLS session, so:
 * - without any VirtualService or DestinationRule, 200 sequential calls split between the pods;
 * - with an outlierDetection DestinationRule, killing reviews-w1's app ejects that pod alone and
 *   every later call succeeds on reviews-w2; restarted, reviews-w1 gets traffic again;
 * - with `failoverPriority` and `failover` together, every call goes to the pod the label rank and
 *   then the region pair put first.
 * Counts are of the `workload` each reply names. Addresses: 127.132.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080/';
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'remote-endpoints', 'mesh.yaml');
const CALLS = 200;

useFixtureMesh(test, { block: 132, network: 'loopback', topology: FIXTURE });

/** Processes this file started itself (a restarted app), stopped by PID after every test. */
const owned: ChildProcess[] = [];
test.after.always(async () => {
  for (const child of owned) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await waitExit(child);
  }
});

/** `n` sequential calls from east's client, counted by the workload that answered (or `status <code> <flags>`). */
async function batch(state: MeshState, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await request(state, 'east/default/client', REVIEWS);
    const key = r.status === 200 ? (JSON.parse(r.body) as { workload: string }).workload : `status ${r.status} ${r.headers['x-meshfed-response-flags'] ?? '-'}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** Polls batches of 10 until `ok` holds for one; returns that batch. */
function until(state: MeshState, what: string, ok: (b: Record<string, number>) => boolean, timeoutMs = 60_000): Promise<Record<string, number>> {
  return eventually(
    what,
    async () => {
      const b = await batch(state, 10);
      return ok(b) ? b : undefined;
    },
    timeoutMs,
  );
}

test.serial('two remote pods behind one gateway: split without rules, ejected alone, back after a restart', async (t) => {
  const { state, mesh } = t.context;
  await until(state, 'both west pods imported and answering east', (b) => (b['reviews-w1'] ?? 0) > 0 && (b['reviews-w2'] ?? 0) > 0, 90_000);

  const split = await batch(state, CALLS);
  // Tolerance: even a random pick per call (binomial, p = 1/2, σ = √(200/4) ≈ 7.1) stays within
  // ±4σ ≈ ±28 of 100; round robin, the default, gives 100/100. Before endpoint-qualified SNIs
  // one pod got 0 of 200 here.
  t.log(`no VirtualService or DestinationRule, ${CALLS} calls: ${JSON.stringify(split)}`);
  t.is((split['reviews-w1'] ?? 0) + (split['reviews-w2'] ?? 0), CALLS, 'every call answered');
  t.true((split['reviews-w1'] ?? 0) >= 72 && (split['reviews-w1'] ?? 0) <= 128, 'reviews-w1 within 100 ± 28');
  t.true((split['reviews-w2'] ?? 0) >= 72 && (split['reviews-w2'] ?? 0) <= 128, 'reviews-w2 within 100 ± 28');

  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 10s
      maxEjectionPercent: 50
`,
  );
  // The rule changes nothing while both pods are healthy; wait until east's sidecar holds it
  // (its admin config dump shows the outlier detection) before killing anything.
  const admin = state.clusters.find((c) => c.name === 'east')?.workloads.find((w) => w.name === 'client')?.sidecar?.admin;
  if (!admin) throw new Error('no east client sidecar in the state file');
  const dump = await eventually(
    'the DestinationRule pushed to east’s client sidecar',
    async () => {
      const text = await fetch(`${admin}/config_dump`).then((r) => r.text()).catch(() => '');
      return /"baseEjectionTimeMs":\s*10000/.test(text) ? text : undefined;
    },
    45_000,
  );
  const remote = [...dump.matchAll(/"sni":\s*"(ep_\.[0-9a-f]{16}_\.outbound_\.9080_\._\.reviews[^"]*)"/g)].map((m) => m[1]);
  t.log(`east's sidecar holds ${new Set(remote).size} endpoint-qualified SNIs for reviews: ${[...new Set(remote)].join(', ')}`);
  t.is(new Set(remote).size, 2, 'one endpoint, and one SNI, per west pod');

  const app = mesh.processes().find((p) => p.name === 'west/default/reviews-w1/app');
  if (!app) throw new Error(`no west/default/reviews-w1/app in ${mesh.processes().map((p) => p.name).join(', ')}`);
  const recipe = await processRecipe(app.pid);
  process.kill(app.pid, 'SIGKILL');
  await app.exited;
  const firstAfter = await batch(state, 10);
  t.log(`reviews-w1's app killed (pid ${app.pid}), first 10 calls: ${JSON.stringify(firstAfter)}`);
  t.is(firstAfter['reviews-w1'] ?? 0, 0, 'the dead pod answers nothing');
  const ejected = await until(state, 'reviews-w1 ejected: 10 of 10 calls answered by reviews-w2', (b) => b['reviews-w2'] === 10);
  t.log(`first clean batch: ${JSON.stringify(ejected)}`);
  const after = await batch(state, 40);
  t.log(`after the ejection, 40 calls: ${JSON.stringify(after)}`);
  t.deepEqual(after, { 'reviews-w2': 40 }, 'every later call succeeds on the other pod, through the same gateway');

  const [command, ...args] = recipe.argv;
  if (command === undefined) throw new Error('empty command line');
  const restarted = spawn(command, args, { env: recipe.env, cwd: recipe.cwd, stdio: 'ignore' });
  // This file owns the restarted app: it serves the next test too, and is stopped by PID after all.
  owned.push(restarted);
  // Back once its ejection (10 s, longer per repeated ejection) has run out.
  const back = await until(state, 'reviews-w1 back in rotation', (b) => (b['reviews-w1'] ?? 0) >= 3 && (b['reviews-w2'] ?? 0) >= 3, 150_000);
  t.log(`app restarted (pid ${restarted.pid}), first batch with both: ${JSON.stringify(back)}`);
  const recovered = await batch(state, 40);
  t.log(`recovered, 40 calls: ${JSON.stringify(recovered)}`);
  t.is((recovered['reviews-w1'] ?? 0) + (recovered['reviews-w2'] ?? 0), 40, 'every call answered');
  t.true((recovered['reviews-w1'] ?? 0) >= 10, 'reviews-w1 gets traffic again');
});

test.serial('failover together with failoverPriority: the label rank first, then the failover region pair', async (t) => {
  const { state } = t.context;
  // Both west pods rank alike on the cluster label (neither is in east's cluster), and both are in
  // another region than the client (r1), so without `failover` they tie at one priority; the pair
  // r1 → r3 puts reviews-w2 (r3) first and reviews-w1 (r2) after it.
  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failoverPriority: [topology.istio.io/cluster]
        failover: [{from: r1, to: r3}]
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
`,
  );
  await until(state, 'the rule pushed: 10 of 10 calls answered by reviews-w2', (b) => b['reviews-w2'] === 10);
  const preferred = await batch(state, 40);
  t.log(`failoverPriority [cluster] + failover r1→r3, 40 calls: ${JSON.stringify(preferred)}`);
  t.deepEqual(preferred, { 'reviews-w2': 40 }, 'every call to the pod in the failover region');

  // A label rank that disagrees with the region pair wins over it, as in Istio.
  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failoverPriority: [version=v1]
        failover: [{from: r1, to: r3}]
    outlierDetection:
      consecutive5xxErrors: 1
      interval: 1s
      baseEjectionTime: 30s
`,
  );
  await until(state, 'the second rule pushed: 10 of 10 calls answered by reviews-w1', (b) => b['reviews-w1'] === 10);
  const byLabel = await batch(state, 40);
  t.log(`failoverPriority [version=v1] + failover r1→r3, 40 calls: ${JSON.stringify(byLabel)}`);
  t.deepEqual(byLabel, { 'reviews-w1': 40 }, 'the label rank orders before the locality');
});
