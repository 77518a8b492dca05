/**
 * The ServiceImport writer against the Kubernetes list/watch test server. Loopback: 127.139.4.1.
 */
import test from 'ava';
import { request } from 'undici';
import type { ImportedEndpoint } from '../../src/federation/federation-interface.ts';
import { createServiceImportWriter } from '../../src/federation/index.ts';
import { startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { silentLogger } from '../pilot/support/wait.ts';

const HOST = '127.139.4.1';
const SI = '/apis/multicluster.x-k8s.io/v1alpha1/namespaces/default/serviceimports';

const ep = (cluster: string, service: string, port: number): ImportedEndpoint => ({
  cluster,
  namespace: 'default',
  service,
  hostname: `${service}.default.svc.cluster.local`,
  port,
  protocol: 'http',
  gateway: { address: '127.0.0.1', port: 15443 },
  labels: {},
  workload: `${service}-0`,
  serviceAccount: service,
});

async function setup(t: { teardown: (fn: () => Promise<void>) => void }) {
  const server = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => server.close());
  const post = async (body: unknown) => {
    const res = await request(`${server.url}${SI}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    await res.body.dump();
    if (res.statusCode !== 201) throw new Error(`POST: ${res.statusCode}`);
  };
  const si = (name: string) => server.get('multicluster.x-k8s.io', 'serviceimports', 'default', name);
  const writes = () => server.requests().filter((r) => r.method !== 'GET');
  return { server, post, si, writes };
}

test('creates ServiceImports with spec and status, follows changes, deletes what is no longer imported, and writes nothing for no change', async (t) => {
  const { server, si, writes } = await setup(t);
  const w = createServiceImportWriter({ kubeConfig: server.kubeConfig(), logger: silentLogger });
  t.teardown(() => w.close());
  w.replaceCluster('west', [ep('west', 'reviews', 9080)]);
  await w.idle();
  t.like(si('reviews'), {
    kind: 'ServiceImport',
    metadata: { labels: { 'app.kubernetes.io/managed-by': 'meshfed' } },
    spec: { type: 'ClusterSetIP', ports: [{ port: 9080, protocol: 'TCP', appProtocol: 'http' }] },
    status: { clusters: [{ cluster: 'west' }] },
  });

  w.replaceCluster('east', [ep('east', 'reviews', 9080), ep('east', 'reviews', 9090)]);
  await w.idle();
  t.deepEqual(si('reviews')?.['spec'], {
    type: 'ClusterSetIP',
    ports: [
      { port: 9080, protocol: 'TCP', appProtocol: 'http' },
      { port: 9090, protocol: 'TCP', appProtocol: 'http' },
    ],
  });
  t.deepEqual(si('reviews')?.['status'], { clusters: [{ cluster: 'east' }, { cluster: 'west' }] });

  const before = writes().length;
  w.replaceCluster('east', [ep('east', 'reviews', 9090), ep('east', 'reviews', 9080)]);
  w.resync();
  await w.idle();
  t.is(writes().length, before, 'the same imports write nothing');

  w.removeCluster('east');
  await w.idle();
  t.deepEqual(si('reviews')?.['status'], { clusters: [{ cluster: 'west' }] });
  w.removeCluster('west');
  await w.idle();
  t.is(si('reviews'), undefined);
});

test('leaves a ServiceImport it does not manage alone, and sweeps its own orphans at start', async (t) => {
  const { server, post, si } = await setup(t);
  await post({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceImport', metadata: { name: 'users' }, spec: { type: 'Headless', ports: [] } });
  await post({
    apiVersion: 'multicluster.x-k8s.io/v1alpha1',
    kind: 'ServiceImport',
    metadata: { name: 'stale', labels: { 'app.kubernetes.io/managed-by': 'meshfed' } },
    spec: { type: 'ClusterSetIP', ports: [] },
  });
  const w = createServiceImportWriter({ kubeConfig: server.kubeConfig(), logger: silentLogger });
  t.teardown(() => w.close());
  w.replaceCluster('west', [ep('west', 'users', 80)]);
  await w.idle();
  t.is(si('stale'), undefined, 'an orphan from an earlier run is deleted');
  t.deepEqual(si('users')?.['spec'], { type: 'Headless', ports: [] }, "a user's ServiceImport is not overwritten");
});

test('writes only while canWrite() is true; resync() catches up', async (t) => {
  const { server, si, writes } = await setup(t);
  let leader = false;
  const w = createServiceImportWriter({ kubeConfig: server.kubeConfig(), logger: silentLogger, canWrite: () => leader });
  t.teardown(() => w.close());
  w.replaceCluster('west', [ep('west', 'reviews', 9080)]);
  await w.idle();
  t.is(writes().length, 0);
  t.is(si('reviews'), undefined);
  leader = true;
  w.resync();
  await w.idle();
  t.like(si('reviews'), { status: { clusters: [{ cluster: 'west' }] } });
});
