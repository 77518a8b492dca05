/**
 * ServiceExport `Conflict` end to end through real Consul and the Kubernetes list/watch test
 * server: two WAN-joined Consul datacenters; west's federation controller exports `reviews`; east
 * runs a federation controller whose imports feed the conflict tracker, the tracker also gets
 * east's own export of `reviews` (http:9080), and east's CRD config store writes the
 * ServiceExport's status from it. West declaring 9080 as tcp flips Conflict to True
 * (PortConflict, naming west); west agreeing (http) flips it back to False.
 * Loopback: 127.145.1.0/24 (.1 Consul, .2 the test server; .3 and .4 are gateway addresses
 * nothing binds).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { request } from 'undici';
import { initCa } from '../../src/citadel/index.ts';
import { createDiscoveryBackend, createExportConflictTracker, type LocalExportState, startFederation } from '../../src/federation/index.ts';
import { CRD_KINDS, createCrdConfigStore } from '../../src/pilot/config/crd/index.ts';
import { type ConsulDatacenters, startConsulDatacenters } from '../support/consul.ts';
import { startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { pollUntil, silentLogger } from '../pilot/support/wait.ts';
import { exportsOf } from './fixtures.ts';

const CONSUL = '127.145.1.1';
const SE = '/apis/multicluster.x-k8s.io/v1alpha1/namespaces/default/serviceexports';
const TUNING = { datacenterPollMs: 200, waitSeconds: 5, sweepIntervalMs: 60_000, retryDelayMs: 100, unreachableAfterFailures: 3 };

let consul: ConsulDatacenters | undefined;
test.before(async () => {
  consul = await startConsulDatacenters({ names: ['east', 'west'], host: CONSUL, basePort: 18800 });
});
test.after.always(async () => {
  await consul?.stop();
});

/** West's export of reviews with port 9080 declared as `protocol`. */
function westExport(protocol: 'http' | 'tcp'): LocalExportState {
  const s = exportsOf('west', '127.145.1.4', ['reviews']);
  return { ...s, exports: s.exports.map((e) => ({ ...e, ports: [{ port: 9080, protocol }] })) };
}

type Condition = { type: string; status: string; reason: string; message: string };

test.serial('ServiceExport Conflict turns True when a remote export declares a port otherwise, and False when it agrees', async (t) => {
  const [east, west] = consul?.dcs ?? [];
  if (!east || !west) throw new Error('no datacenters');
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-conflict-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east', 'west'], trustDomain: 'cluster.local' });
  const rootCertPem = await readFile(path.join(dir, 'ca', 'east', 'root-cert.pem'), 'utf8');

  const kube = await startKubeListWatchTestServer({ host: '127.145.1.2' });
  t.teardown(() => kube.close());
  const res = await request(`${kube.url}${SE}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'reviews', namespace: 'default' } }),
  });
  await res.body.dump();
  t.is(res.statusCode, 201);

  // East: the tracker gets east's own export and, through a real federation controller, west's.
  const tracker = createExportConflictTracker();
  tracker.updateLocal(exportsOf('east', '127.145.1.3', ['reviews']));
  const store = createCrdConfigStore({
    kubeConfig: kube.kubeConfig('east-controlplane'),
    logger: silentLogger,
    kinds: CRD_KINDS.filter((k) => k.kind === 'ServiceExport'),
    status: { identity: 'east', leaseNamespace: 'meshfed-system', leaseDurationSeconds: 2, renewDeadlineMs: 1000, retryPeriodMs: 100, exportConflicts: tracker },
  });
  t.teardown(() => store.stop());
  const eastBackend = createDiscoveryBackend('consul', { host: east.host, port: east.httpPort });
  const eastFed = await startFederation({ cluster: 'east', backend: eastBackend, rootCertPem, sink: tracker, logger: silentLogger, tuning: TUNING });
  t.teardown(async () => {
    await eastFed.close();
    await eastBackend.close();
  });
  const westBackend = createDiscoveryBackend('consul', { host: west.host, port: west.httpPort });
  const westFed = await startFederation({
    cluster: 'west',
    backend: westBackend,
    rootCertPem,
    sink: { replaceCluster: () => {}, removeCluster: () => {} },
    logger: silentLogger,
    tuning: TUNING,
  });
  t.teardown(async () => {
    await westFed.close();
    await westBackend.close();
  });

  const conflict = (): Condition | undefined =>
    ((kube.get('multicluster.x-k8s.io', 'serviceexports', 'default', 'reviews')?.['status'] as { conditions?: Condition[] } | undefined)?.conditions ?? []).find(
      (c) => c.type === 'Conflict',
    );
  const eventually = (what: string, check: () => boolean) =>
    pollUntil(check, what, 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\nConflict condition: ${JSON.stringify(conflict())}`);
    });

  westFed.update(westExport('tcp'));
  await eventually('Conflict True', () => conflict()?.status === 'True');
  t.like(conflict(), { status: 'True', reason: 'PortConflict' });
  t.regex(conflict()?.message ?? '', /conflicts with west: port 9080 is declared .*west tcp/);

  westFed.update(westExport('http'));
  await eventually('Conflict False', () => conflict()?.status === 'False');
  t.like(conflict(), { status: 'False', reason: 'NoConflict', message: 'agrees with west' });
});
