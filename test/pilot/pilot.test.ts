import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { WorkloadRegistryFile } from '../../src/common/workload.ts';
import { createPilot, type Pilot, PilotOptionsError, type Snapshot } from '../../src/pilot/index.ts';
import { endpointIdOf } from '../../src/xds/naming.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { proxyNode } from './support/snapshot-builder.ts';
import { silentLogger } from './support/wait.ts';

const registry: WorkloadRegistryFile = {
  cluster: 'east',
  gatewayAddress: '127.0.2.1',
  workloads: [
    {
      name: 'reviews-v1',
      namespace: 'default',
      serviceAccount: 'reviews',
      cluster: 'east',
      address: '127.0.1.2',
      labels: { app: 'reviews', version: 'v1' },
      service: { name: 'reviews', port: 9080, protocol: 'http' },
      sidecar: true,
    },
  ],
};

const EXPORT = `apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews}
`;

interface Fixture {
  pilot: Pilot;
  configDir: string;
  /** Resolves with the next push (snapshot and reason). */
  nextPush(what: string): Promise<{ snap: Snapshot; reason: string }>;
}

async function start(t: { teardown: (fn: () => void) => void }, debounce: { debounceMs: number; debounceMaxMs?: number } = { debounceMs: 10 }): Promise<Fixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-pilot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  writeFileSync(path.join(configDir, 'export.yaml'), EXPORT);
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify(registry));
  const pilot = await createPilot({ cluster: 'east', trustDomain: 'cluster.local', registryFile, configDir, logger: silentLogger, ...debounce });
  t.teardown(() => pilot.close());
  const waiting: ((p: { snap: Snapshot; reason: string }) => void)[] = [];
  pilot.onPush((snap, reason) => {
    for (const w of waiting.splice(0)) w({ snap, reason });
  });
  const nextPush = (what: string): Promise<{ snap: Snapshot; reason: string }> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no push for ${what}`)), 5000);
      waiting.push((p) => {
        clearTimeout(timer);
        resolve(p);
      });
    });
  return { pilot, configDir, nextPush };
}

test('createPilot builds the first snapshot from the registry file and config folder', async (t) => {
  const { pilot } = await start(t);
  const snap = pilot.snapshot();
  t.is(snap.cluster, 'east');
  t.is(snap.gatewayAddress, '127.0.2.1', 'taken from the registry file');
  t.deepEqual([...snap.services.keys()], ['reviews.default.svc.cluster.local']);
  t.deepEqual(pilot.exportState().exports.map((e) => e.hostname), ['reviews.default.svc.cluster.local']);
  t.deepEqual(
    pilot.generate(proxyNode('router', { ip: '127.0.2.1' }), TYPE_URL.cluster).map((r) => r.name),
    [`ep_.${endpointIdOf('east', 'default', 'reviews-v1')}_.outbound_.9080_._.reviews.default.svc.cluster.local`, 'outbound_.9080_._.reviews.default.svc.cluster.local'],
  );
  t.deepEqual(pilot.configErrors(), []);
});

test('federation imports push a new snapshot with a new version', async (t) => {
  const { pilot, nextPush } = await start(t);
  const before = pilot.snapshot();
  const push = nextPush('federation import');
  pilot.federationSink.replaceCluster('west', [
    {
      cluster: 'west',
      namespace: 'default',
      service: 'ratings',
      hostname: 'ratings.default.svc.cluster.local',
      port: 9080,
      gateway: { address: '10.1.0.1', port: 15443 },
      labels: { app: 'ratings', 'topology.istio.io/cluster': 'west' },
      workload: 'ratings-v1',
      serviceAccount: 'ratings',
    },
  ]);
  const { snap, reason } = await push;
  t.is(reason, 'registry:federation');
  t.not(snap.version, before.version);
  t.is(pilot.snapshot(), snap);
  t.deepEqual([...snap.services.keys()], ['ratings.default.svc.cluster.local', 'reviews.default.svc.cluster.local']);
  t.deepEqual([...before.services.keys()], ['reviews.default.svc.cluster.local'], 'old snapshots never change');
  t.true(
    pilot.generate(proxyNode('sidecar'), TYPE_URL.endpoint).some((r) => r.name === 'outbound|9080||ratings.default.svc.cluster.local'),
  );
});

test('config edits push; a broken edit keeps the last good config and reports errors', async (t) => {
  const { pilot, configDir, nextPush } = await start(t);
  let push = nextPush('new DestinationRule');
  writeFileSync(
    path.join(configDir, 'dr.yaml'),
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}\n',
  );
  let p = await push;
  t.is(p.reason, 'config');
  t.deepEqual(p.snap.destinationRules.get('reviews.default.svc.cluster.local')?.spec.subsets.map((s) => s.name), ['v1']);

  push = nextPush('broken DestinationRule');
  writeFileSync(
    path.join(configDir, 'dr.yaml'),
    'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec: {host: reviews, subsets: [{name: V1}]}\n',
  );
  p = await push;
  t.deepEqual(p.snap.destinationRules.get('reviews.default.svc.cluster.local')?.spec.subsets.map((s) => s.name), ['v1']);
  t.deepEqual(pilot.configErrors().map((e) => `${e.source} ${e.path}`), ['dr.yaml spec.subsets[0].name']);
});

test('changes that never quiet down still push once debounceMaxMs has passed', async (t) => {
  // A quiet period far longer than the test may wait: only the max can end it.
  const { pilot, nextPush } = await start(t, { debounceMs: 600_000, debounceMaxMs: 50 });
  const push = nextPush('the max debounce');
  const churn = setInterval(() => pilot.federationSink.replaceCluster('west', []), 5);
  t.teardown(() => clearInterval(churn));
  const { reason } = await push;
  t.is(reason, 'registry:federation');
});

test('invalid options are rejected at the boundary', async (t) => {
  const e = await t.throwsAsync(createPilot({ cluster: '', trustDomain: 'x', registryFile: 'a', configDir: 'b' }), {
    instanceOf: PilotOptionsError,
  });
  t.is(e?.code, 'PILOT_OPTIONS_INVALID');
  t.is(e?.message, 'invalid cluster: must be a non-empty string');
});
