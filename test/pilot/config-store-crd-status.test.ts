/**
 * Status written back by the CRD config store, against the Kubernetes list/watch test server:
 * Istio's Reconciled condition and validation messages, MCS ServiceExport conditions, no write
 * loops, and a Lease so that of two stores only the holder writes. Loopback: 127.139.2.2.
 */
import test from 'ava';
import { request } from 'undici';
import { createCrdConfigStore, type CrdConfigStore, createLeaseElector } from '../../src/pilot/config/crd/index.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { pollUntil, silentLogger } from './support/wait.ts';

const HOST = '127.139.2.2';
const VS = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
const SE = '/apis/multicluster.x-k8s.io/v1alpha1/namespaces/default/serviceexports';
const LEASE_TIMING = { leaseDurationSeconds: 2, renewDeadlineMs: 1000, retryPeriodMs: 100 };

async function send(s: KubeListWatchTestServer, method: 'POST' | 'PUT', p: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await request(`${s.url}${p}`, { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const json = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

const vs = (name: string, weight: number, labels: Record<string, string> = {}) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default', labels },
  spec: {
    hosts: [name],
    http: [
      {
        route: [
          { destination: { host: name }, weight },
          { destination: { host: `${name}-canary` }, weight: 100 - weight },
        ],
      },
    ],
  },
});

type Status = {
  conditions?: { type: string; status: string; reason: string; message: string; lastTransitionTime: string; observedGeneration?: number }[];
  validationMessages?: { documentationUrl?: string; level: string; type: { code: string; name: string }; description: string }[];
  observedGeneration?: number;
};

const statusOf = (s: KubeListWatchTestServer, group: string, plural: string, name: string): Status | undefined =>
  s.get(group, plural, 'default', name)?.['status'] as Status | undefined;
const vsStatus = (s: KubeListWatchTestServer, name: string) => statusOf(s, 'networking.istio.io', 'virtualservices', name);
const statusWrites = (s: KubeListWatchTestServer, name?: string) =>
  s.requests().filter((r) => r.method === 'PUT' && r.path.endsWith('/status') && (name === undefined || r.path.endsWith(`/${name}/status`)));

function openStore(t: { teardown: (fn: () => Promise<void>) => void }, s: KubeListWatchTestServer, identity: string): CrdConfigStore {
  const store = createCrdConfigStore({
    kubeConfig: s.kubeConfig(`token-${identity}`),
    logger: silentLogger,
    status: { identity, leaseNamespace: 'meshfed-system', ...LEASE_TIMING },
  });
  t.teardown(() => store.stop());
  return store;
}

test('Istio kinds get a Reconciled condition, observedGeneration and, when invalid, validation messages with the field path', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  await send(s, 'POST', VS, vs('good', 80));
  await send(s, 'POST', VS, vs('bad', 120));
  const store = openStore(t, s, 'a');
  await pollUntil(() => vsStatus(s, 'good') !== undefined && vsStatus(s, 'bad') !== undefined, 'both statuses');

  const good = vsStatus(s, 'good');
  t.is(good?.observedGeneration, 1);
  t.like(good?.conditions?.[0], { type: 'Reconciled', status: 'True', reason: 'Accepted' });
  t.is(good?.validationMessages, undefined);

  const bad = vsStatus(s, 'bad');
  t.like(bad?.conditions?.[0], { type: 'Reconciled', status: 'False', reason: 'Invalid' });
  t.regex(bad?.conditions?.[0]?.message ?? '', /rejected with 2 error\(s\); nothing of this object is in effect/);
  t.deepEqual(bad?.validationMessages, [
    {
      documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0106/',
      level: 'ERROR',
      type: { code: 'IST0106', name: 'SchemaValidationError' },
      description: 'Schema validation error: spec.http[0].route[0].weight: must be an integer 0..100',
    },
    {
      documentationUrl: 'https://istio.io/latest/docs/reference/config/analysis/ist0106/',
      level: 'ERROR',
      type: { code: 'IST0106', name: 'SchemaValidationError' },
      description: 'Schema validation error: spec.http[0].route[1].weight: must be an integer 0..100',
    },
  ]);
  t.deepEqual(store.list().map((o) => o.metadata.name), ['good']);

  // The fix clears the messages and flips the condition, with a new transition time.
  const badBefore = s.get('networking.istio.io', 'virtualservices', 'default', 'bad');
  await send(s, 'PUT', `${VS}/bad`, { ...vs('bad', 60), metadata: { ...vs('bad', 60).metadata, resourceVersion: badBefore?.metadata.resourceVersion } });
  await pollUntil(() => vsStatus(s, 'bad')?.observedGeneration === 2, 'the fixed status');
  t.like(vsStatus(s, 'bad')?.conditions?.[0], { type: 'Reconciled', status: 'True' });
  t.is(vsStatus(s, 'bad')?.validationMessages, undefined);
});

test('ServiceExport gets the MCS conditions Valid, Ready and Conflict', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  await send(s, 'POST', SE, { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'reviews' } });
  await send(s, 'POST', SE, { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'typo' }, spec: { ports: [] } });
  openStore(t, s, 'a');
  const se = (name: string) => statusOf(s, 'multicluster.x-k8s.io', 'serviceexports', name);
  await pollUntil(() => se('reviews') !== undefined && se('typo') !== undefined, 'both statuses');
  t.deepEqual(
    se('reviews')?.conditions?.map((c) => [c.type, c.status, c.reason, c.observedGeneration]),
    [
      ['Valid', 'True', 'Valid', 1],
      ['Ready', 'True', 'Ready', 1],
      ['Conflict', 'Unknown', 'Pending', 1],
    ],
  );
  const typo = se('typo')?.conditions;
  t.deepEqual(
    typo?.map((c) => [c.type, c.status, c.reason]),
    [
      ['Valid', 'False', 'Invalid'],
      ['Ready', 'False', 'Pending'],
      ['Conflict', 'Unknown', 'Pending'],
    ],
  );
  t.regex(typo?.[0]?.message ?? '', /spec\.ports: unknown field/);
});

test('status is written only when it changes: no write loop on its own MODIFIED events, none for a label edit', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  await send(s, 'POST', VS, vs('r', 80));
  openStore(t, s, 'a');
  await pollUntil(() => vsStatus(s, 'r')?.observedGeneration === 1, 'the first status');
  const firstTransition = vsStatus(s, 'r')?.conditions?.[0]?.lastTransitionTime;

  // A label edit: generation stays 1, so the wanted status equals the stored one.
  const cur = s.get('networking.istio.io', 'virtualservices', 'default', 'r');
  await send(s, 'PUT', `${VS}/r`, { ...cur, metadata: { ...cur?.metadata, labels: { team: 'x' } } });
  // A spec edit afterwards: the store sees the label edit (and its own write) before this one.
  const cur2 = s.get('networking.istio.io', 'virtualservices', 'default', 'r');
  await send(s, 'PUT', `${VS}/r`, { ...cur2, spec: vs('r', 70).spec });
  await pollUntil(() => vsStatus(s, 'r')?.observedGeneration === 2, 'the second status');
  const cur3 = s.get('networking.istio.io', 'virtualservices', 'default', 'r');
  await send(s, 'PUT', `${VS}/r`, { ...cur3, spec: vs('r', 60).spec });
  await pollUntil(() => vsStatus(s, 'r')?.observedGeneration === 3, 'the third status');

  t.is(statusWrites(s, 'r').length, 3, 'one write per generation');
  t.is(vsStatus(s, 'r')?.conditions?.[0]?.lastTransitionTime, firstTransition, 'Reconciled stayed True: the transition time is kept');
});

test('two stores on one server: only the Lease holder writes; the other takes over when the holder stops', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  await send(s, 'POST', VS, vs('one', 80));
  const a = openStore(t, s, 'a');
  await pollUntil(() => a.isStatusWriter(), 'a holds the lease');
  const b = openStore(t, s, 'b');
  await b.synced();
  await pollUntil(() => vsStatus(s, 'one') !== undefined, 'the status of one');
  await send(s, 'POST', VS, vs('two', 80));
  await pollUntil(() => vsStatus(s, 'two') !== undefined, 'the status of two');
  t.false(b.isStatusWriter());
  t.deepEqual([...new Set(statusWrites(s).map((r) => r.token))], ['token-a'], 'only the holder wrote status');
  t.is(s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-config-status')?.['spec'] !== undefined, true);

  await a.stop();
  t.is((s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-config-status')?.['spec'] as { holderIdentity?: string }).holderIdentity, '', 'released');
  await pollUntil(() => b.isStatusWriter(), 'b takes over');
  await send(s, 'POST', VS, vs('three', 120));
  await pollUntil(() => vsStatus(s, 'three') !== undefined, 'the status of three');
  const writers = statusWrites(s).map((r) => r.token);
  t.is(writers.at(-1), 'token-b');
  t.deepEqual(
    [...new Set(writers)],
    ['token-a', 'token-b'],
    'a wrote until it stopped, b after',
  );
  const lease = s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-config-status')?.['spec'] as { holderIdentity?: string; leaseTransitions?: number };
  t.is(lease.holderIdentity, 'b');
});

test('a crashed holder (no release) is taken over once its lease has expired', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  const opts = { namespace: 'meshfed-system', name: 'l', logger: silentLogger, ...LEASE_TIMING };
  const a = createLeaseElector({ ...opts, kubeConfig: s.kubeConfig('token-a'), identity: 'a' });
  t.teardown(() => a.stop());
  await pollUntil(() => a.isLeader(), 'a leads');
  const b = createLeaseElector({ ...opts, kubeConfig: s.kubeConfig('token-b'), identity: 'b' });
  t.teardown(() => b.stop());
  const transitions: boolean[] = [];
  b.onChange((v) => transitions.push(v));
  // b tries every 100 ms and sees a renewing: it stays a follower.
  await pollUntil(() => s.requests().filter((r) => r.token === 'token-b' && r.method === 'GET' && r.path.endsWith('/leases/l')).length > 5, 'b polling');
  t.false(b.isLeader());
  await a.stop({ release: false });
  const renewedAt = s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'l')?.metadata.resourceVersion;
  await pollUntil(() => b.isLeader(), 'b takes over after expiry', 10_000);
  const lease = s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'l');
  const spec = lease?.['spec'] as { holderIdentity?: string; leaseTransitions?: number };
  t.is(spec.holderIdentity, 'b');
  t.is(spec.leaseTransitions, 1);
  t.not(lease?.metadata.resourceVersion, renewedAt);
  t.deepEqual(transitions, [true]);
});

test('lease options are validated at the boundary', (t) => {
  const s = { kubeConfig: undefined as never, namespace: 'ns', name: 'l', identity: 'a', logger: silentLogger };
  t.throws(() => createLeaseElector({ ...s, identity: '' }), { message: 'invalid identity: must be a non-empty string' });
  t.throws(() => createLeaseElector({ ...s, leaseDurationSeconds: 0 }), { message: 'invalid leaseDurationSeconds: must be a positive integer' });
  t.throws(() => createLeaseElector({ ...s, leaseDurationSeconds: 2, retryPeriodMs: 1500 }), { message: 'invalid retryPeriodMs: must be below renewDeadlineMs' });
});
