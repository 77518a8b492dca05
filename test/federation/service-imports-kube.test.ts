/**
 * Federation writes MCS ServiceImports in Kubernetes:
 * - end to end: two real Consul datacenters (WAN-joined); west's federation controller exports
 *   `reviews`; east is the compiled `meshfed controlplane` in Kubernetes mode against the
 *   Kubernetes list/watch test server, and its federation controller writes the ServiceImport
 *   (spec ports, status clusters) and deletes it when west withdraws the export;
 * - the same from `meshfed federation` in Kubernetes mode, beside its imports folder;
 * - the writer is gated by the Lease `meshfed-service-imports`: of two replicas only the holder
 *   writes, and the other takes over when the holder stops.
 * Loopback: 127.142.4.0/24 (.1 Consul, .2 the test server, .3 east's control plane, .4 its
 * gateway address, .5 west's gateway address).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { initCa } from '../../src/citadel/index.ts';
import { startServiceImportSync } from '../../src/cli/control-plane-kube.ts';
import { createDiscoveryBackend, type ImportedEndpoint, startFederation } from '../../src/federation/index.ts';
import { startMeshfed } from '../support/cli.ts';
import { type ConsulDatacenters, startConsulDatacenters } from '../support/consul.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { writeKubeconfig } from '../support/kube-test-client.ts';
import { pollUntil, silentLogger } from '../pilot/support/wait.ts';
import { exportsOf } from './fixtures.ts';

const CONSUL = '127.142.4.1';
const TOKEN = 'controlplane-sa';

const serviceImport = (kube: KubeListWatchTestServer, name: string) => kube.get('multicluster.x-k8s.io', 'serviceimports', 'default', name);

let consul: ConsulDatacenters | undefined;
test.before(async () => {
  consul = await startConsulDatacenters({ names: ['east', 'west'], host: CONSUL, basePort: 18700 });
});
test.after.always(async () => {
  await consul?.stop();
});

/** A CA shared by east and west, a test server for east's cluster, and west exporting reviews. */
async function clusterset(t: ExecutionContext) {
  const [east, west] = consul?.dcs ?? [];
  if (!east || !west) throw new Error('no datacenters');
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-si-kube-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kube = await startKubeListWatchTestServer({ host: '127.142.4.2', bearerToken: TOKEN });
  t.teardown(() => kube.close());
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east', 'west'], trustDomain: 'cluster.local' });
  const rootCertPem = await readFile(path.join(dir, 'ca', 'east', 'root-cert.pem'), 'utf8');
  const westBackend = createDiscoveryBackend('consul', { host: west.host, port: west.httpPort });
  const westFed = await startFederation({
    cluster: 'west',
    backend: westBackend,
    rootCertPem,
    sink: { replaceCluster: () => {}, removeCluster: () => {} },
    logger: silentLogger,
    tuning: { datacenterPollMs: 200, waitSeconds: 5, sweepIntervalMs: 60_000, retryDelayMs: 100, unreachableAfterFailures: 3 },
  });
  t.teardown(async () => {
    await westFed.close();
    await westBackend.close();
  });
  westFed.update(exportsOf('west', '127.142.4.5', ['reviews']));
  return { dir, kube, east, westFed, kubeconfig: await writeKubeconfig(dir, kube, TOKEN) };
}

test.serial('controlplane in Kubernetes writes the ServiceImport of what federation imports, and deletes it on withdrawal', async (t) => {
  const { dir, kube, east, westFed, kubeconfig } = await clusterset(t);

  // East: the compiled control plane, reading the cluster and writing ServiceImports there.
  const cp = startMeshfed(t, [
    'controlplane', '--cluster', 'east', '--address', '127.142.4.3', '--ca-dir', path.join(dir, 'ca', 'east'),
    '--registries', 'kube,federation', '--config-stores', 'crd', '--kubeconfig', kubeconfig, '--auth', 'kube',
    '--gateway-address', '127.142.4.4', '--discovery', 'consul', '--consul', east.httpAddr,
  ]);
  const eventually = (what: string, check: () => boolean) =>
    pollUntil(check, what, 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\ncontrolplane output:\n${cp.output()}`);
    });

  await eventually('the ServiceImport of reviews', () => serviceImport(kube, 'reviews')?.['status'] !== undefined);
  t.like(serviceImport(kube, 'reviews'), {
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ServiceImport',
    metadata: { labels: { 'app.kubernetes.io/managed-by': 'meshfed' } },
    spec: { type: 'ClusterSetIP', ports: [{ port: 9080, protocol: 'TCP', appProtocol: 'http' }] },
    status: { clusters: [{ cluster: 'west' }] },
  });
  const lease = kube.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-service-imports')?.['spec'] as { holderIdentity?: string } | undefined;
  t.truthy(lease?.holderIdentity, 'written under the Lease meshfed-service-imports');
  t.true(
    kube.requests().filter((r) => r.path.includes('/serviceimports') && r.method !== 'GET').every((r) => r.token === TOKEN),
    'with the control plane kubeconfig',
  );

  // West withdraws the export: the ServiceImport goes.
  westFed.update(exportsOf('west', '127.142.4.5', []));
  await eventually('the ServiceImport deleted', () => serviceImport(kube, 'reviews') === undefined);
  t.is(serviceImport(kube, 'reviews'), undefined, 'the ServiceImport is gone');
});

test.serial('meshfed federation in Kubernetes writes the ServiceImport beside the imports folder', async (t) => {
  const { dir, kube, east, westFed, kubeconfig } = await clusterset(t);
  const importsDir = path.join(dir, 'imports');
  const fed = startMeshfed(t, [
    'federation', '--cluster', 'east', '--registries', 'kube,federation', '--config-stores', 'crd', '--kubeconfig', kubeconfig,
    '--gateway-address', '127.142.4.4', '--root-cert', path.join(dir, 'ca', 'east', 'root-cert.pem'), '--imports-dir', importsDir,
    '--consul', east.httpAddr,
  ]);
  const eventually = (what: string, check: () => boolean) =>
    pollUntil(check, what, 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\nfederation output:\n${fed.output()}`);
    });
  await eventually('the ServiceImport of reviews', () => serviceImport(kube, 'reviews')?.['status'] !== undefined);
  t.like(serviceImport(kube, 'reviews'), { spec: { ports: [{ port: 9080 }] }, status: { clusters: [{ cluster: 'west' }] } });
  t.regex(await readFile(path.join(importsDir, 'west.json'), 'utf8'), /reviews/, 'the imports folder is written as before');
  westFed.update(exportsOf('west', '127.142.4.5', []));
  await eventually('the ServiceImport deleted', () => serviceImport(kube, 'reviews') === undefined);
  await fed.stop();
  const lease = kube.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-service-imports')?.['spec'] as { holderIdentity?: string } | undefined;
  t.is(lease?.holderIdentity, '', 'released at stop');
});

const ep = (cluster: string, service: string): ImportedEndpoint => ({
  cluster,
  namespace: 'default',
  service,
  hostname: `${service}.default.svc.cluster.local`,
  port: 9080,
  protocol: 'http',
  gateway: { address: '127.142.4.5', port: 15443 },
  labels: {},
  workload: `${service}-0`,
  serviceAccount: service,
});

test.serial('of two replicas only the Lease holder writes ServiceImports; the other takes over when it stops', async (t) => {
  const kube = await startKubeListWatchTestServer({ host: '127.142.4.2' });
  t.teardown(() => kube.close());
  const lease = { leaseDurationSeconds: 3, renewDeadlineMs: 2000, retryPeriodMs: 100 };
  const replica = (token: string) =>
    startServiceImportSync({ kubeConfig: kube.kubeConfig(token), namespace: 'meshfed-system', identity: token, logger: silentLogger, lease });
  const a = replica('replica-a');
  t.teardown(() => a.close());
  await pollUntil(() => a.isWriter(), 'replica a holds the Lease', 10_000);
  const b = replica('replica-b');
  t.teardown(() => b.close());

  for (const r of [a, b]) r.replaceCluster('west', [ep('west', 'reviews')]);
  await Promise.all([a.idle(), b.idle()]);
  await pollUntil(() => serviceImport(kube, 'reviews')?.['status'] !== undefined, 'the ServiceImport written');
  const writers = () => new Set(kube.requests().filter((r) => r.path.includes('/serviceimports') && r.method !== 'GET').map((r) => r.token));
  t.deepEqual([...writers()], ['replica-a']);
  t.false(b.isWriter());

  // A stops (releasing the Lease); B takes over and writes the next change.
  await a.close();
  await pollUntil(() => b.isWriter(), 'replica b takes the Lease', 10_000);
  b.replaceCluster('west', [ep('west', 'reviews'), ep('west', 'ratings')]);
  await b.idle();
  await pollUntil(() => serviceImport(kube, 'ratings') !== undefined, 'replica b writes');
  t.true(writers().has('replica-b'));
});
