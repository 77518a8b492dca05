/**
 * The kube registry against the Kubernetes list/watch test server (the one accepted stand-in):
 * initial list, live events, server-side close (re-watch, no relist), 410 Gone (relist; objects
 * deleted meanwhile are gone), bookmarks (a quiet watch keeps up), and restart after a failure.
 * Loopback: 127.140.1.1.
 */
import test from 'ava';
import { request } from 'undici';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createPilot } from '../../../src/pilot/index.ts';
import { createKubeRegistry, type KubeRegistry } from '../../../src/pilot/registry/kube/index.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../../support/kube-list-watch-test-server.ts';
import { pollUntil, silentLogger } from '../support/wait.ts';

const HOST = '127.140.1.1';
const NS = '/api/v1/namespaces/bookinfo';
const SLICES = '/apis/discovery.k8s.io/v1/namespaces/bookinfo/endpointslices';

async function call(s: KubeListWatchTestServer, method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<void> {
  const res = await request(`${s.url}${path}`, {
    method,
    headers: {
      // The token of the bearer-token server (ignored by the others).
      authorization: 'Bearer right',
      ...(body === undefined ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text}`);
}

const service = (name: string, ports: unknown[]) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'bookinfo' }, spec: { clusterIP: '10.96.0.10', ports } });
const pod = (name: string, more: { node?: string; sidecar?: boolean; labels?: Record<string, string> } = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'bookinfo',
    labels: { app: 'reviews', ...more.labels },
    annotations: more.sidecar === false ? {} : { 'sidecar.istio.io/status': '{}' },
  },
  spec: { serviceAccountName: 'bookinfo-reviews', ...(more.node !== undefined ? { nodeName: more.node } : {}), containers: [{ name: 'app', ports: [{ name: 'web', containerPort: 9080 }] }] },
});
const ep = (ip: string, podName: string, conditions: Record<string, boolean> = { ready: true }) => ({
  addresses: [ip],
  conditions,
  targetRef: { kind: 'Pod', name: podName, namespace: 'bookinfo' },
});
const slice = (name: string, svc: string, endpoints: unknown[], ports: unknown[]) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name, namespace: 'bookinfo', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  endpoints,
  ports,
});

const REVIEWS_PORTS = [
  { name: 'http', port: 80, targetPort: 'web' },
  { name: 'tcp-metrics', port: 9100 },
];
const SLICE_PORTS = [{ name: 'http', port: 9080 }, { name: 'tcp-metrics', port: 9100 }];

/** A line per endpoint: the parts the model reads. */
function view(reg: KubeRegistry): string[] {
  return reg.shards().flatMap((sh) =>
    sh.endpoints.map(
      (e) =>
        `${e.hostname.split('.')[0]}:${e.servicePort} ${e.workload} ${e.address}:${e.port} ${e.health}${e.sidecar ? ' sidecar' : ''} ${e.serviceAccount} ${e.locality.region}/${e.locality.zone}/${e.locality.subZone}`,
    ),
  );
}
const services = (reg: KubeRegistry): string[] => reg.shards().flatMap((sh) => sh.services.map((s) => `${s.name} ${s.ports.map((p) => `${p.name}:${p.port}/${p.protocol}`).join(',')}`));

const lists = (s: KubeListWatchTestServer, resource: string): number =>
  s.requests().filter((r) => r.method === 'GET' && r.path.endsWith(`/${resource}`) && r.query['watch'] !== 'true').length;

async function seed(s: KubeListWatchTestServer): Promise<void> {
  await call(s, 'POST', '/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'n1', labels: { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1' } },
  });
  await call(s, 'POST', `${NS}/pods`, pod('reviews-v1', { node: 'n1' }));
  await call(s, 'POST', `${NS}/services`, service('reviews', REVIEWS_PORTS));
  await call(s, 'POST', SLICES, slice('reviews-a', 'reviews', [ep('10.1.0.5', 'reviews-v1')], SLICE_PORTS));
}

async function withRegistry(fn: (s: KubeListWatchTestServer, reg: KubeRegistry) => Promise<void>, retryDelayMs = 50): Promise<void> {
  const s = await startKubeListWatchTestServer({ host: HOST });
  let reg: KubeRegistry | undefined;
  try {
    await seed(s);
    reg = createKubeRegistry({ cluster: 'east', domainSuffix: 'cluster.local', kubeConfig: s.kubeConfig(), logger: silentLogger, retryDelayMs, gatewayAddress: '127.140.1.2' });
    await reg.synced();
    await fn(s, reg);
  } finally {
    reg?.close();
    await s.close();
  }
}

const V1 = ['reviews:80 reviews-v1 10.1.0.5:9080 healthy sidecar bookinfo-reviews eu/eu-1/', 'reviews:9100 reviews-v1 10.1.0.5:9100 healthy sidecar bookinfo-reviews eu/eu-1/'];

test('kube registry: the initial list becomes one shard of the cluster; live adds, updates and deletes replace it', async (t) => {
  await withRegistry(async (s, reg) => {
    let changes = 0;
    reg.onChange(() => changes++);
    await pollUntil(() => view(reg).length === 2, 'the listed endpoints');
    t.deepEqual(view(reg), V1);
    t.deepEqual(services(reg), ['reviews http:80/http,tcp-metrics:9100/tcp']);
    t.deepEqual(
      reg.shards().map((sh) => [sh.registry, sh.cluster, sh.gatewayAddress, sh.imported.length]),
      [['kube', 'east', '127.140.1.2', 0]],
    );

    // A new pod without a sidecar, then its endpoint (not ready yet): unhealthy, no sidecar.
    await call(s, 'POST', `${NS}/pods`, pod('reviews-v2', { sidecar: false }));
    await call(s, 'PATCH', `${SLICES}/reviews-a`, { endpoints: [ep('10.1.0.5', 'reviews-v1'), ep('10.1.0.6', 'reviews-v2', { ready: false })] });
    await pollUntil(() => view(reg).length === 4, 'reviews-v2');
    t.deepEqual(view(reg).slice(2), ['reviews:80 reviews-v2 10.1.0.6:9080 unhealthy bookinfo-reviews //', 'reviews:9100 reviews-v2 10.1.0.6:9100 unhealthy bookinfo-reviews //']);
    t.true(changes > 0);

    // v2 ready; v1 terminating.
    await call(s, 'PATCH', `${SLICES}/reviews-a`, {
      endpoints: [ep('10.1.0.5', 'reviews-v1', { ready: false, serving: true, terminating: true }), ep('10.1.0.6', 'reviews-v2')],
    });
    await pollUntil(() => view(reg)[0]?.includes('terminating') === true && view(reg)[2]?.includes('healthy') === true, 'v1 terminating');
    t.deepEqual(
      view(reg).map((l) => l.split(' ').slice(0, 4).join(' ')),
      ['reviews:80 reviews-v1 10.1.0.5:9080 terminating', 'reviews:9100 reviews-v1 10.1.0.5:9100 terminating', 'reviews:80 reviews-v2 10.1.0.6:9080 healthy', 'reviews:9100 reviews-v2 10.1.0.6:9100 healthy'],
    );

    // A bad appProtocol: the service is refused with its path, and its endpoints go with it.
    await call(s, 'PATCH', `${NS}/services/reviews`, { spec: { ports: [{ name: 'http', port: 80, appProtocol: 'thrift' }] } });
    await pollUntil(() => reg.errors().length > 0, 'the refused service');
    t.deepEqual(reg.errors(), [
      'Service bookinfo/reviews: spec.ports[0].appProtocol: unknown protocol "thrift": must be one of http, http2, grpc, grpc-web, tcp, tls, https, mongo, redis, mysql',
    ]);
    t.deepEqual(view(reg), []);

    await call(s, 'PATCH', `${NS}/services/reviews`, { spec: { ports: REVIEWS_PORTS } });
    await pollUntil(() => view(reg).length === 4, 'the service back');
    t.deepEqual(reg.errors(), []);
    await call(s, 'DELETE', `${NS}/services/reviews`);
    await pollUntil(() => services(reg).length === 0, 'the deleted service');
    t.deepEqual(view(reg), []);
  });
});

test('kube registry: a server-side close re-watches from the last resourceVersion without a relist, and no event is lost', async (t) => {
  await withRegistry(async (s, reg) => {
    await pollUntil(() => view(reg).length === 2, 'the listed endpoints');
    const before = ['services', 'endpointslices', 'pods', 'nodes'].map((r) => lists(s, r));
    // Close every watch and write at once: the writes land between the close and the re-watch.
    s.closeWatches();
    await call(s, 'POST', `${NS}/pods`, pod('reviews-v2', { node: 'n1' }));
    await call(s, 'PATCH', `${SLICES}/reviews-a`, { endpoints: [ep('10.1.0.5', 'reviews-v1'), ep('10.1.0.6', 'reviews-v2')] });
    await call(s, 'PATCH', '/api/v1/nodes/n1', { metadata: { labels: { 'topology.istio.io/subzone': 'rack7' } } });
    await pollUntil(() => view(reg).length === 4 && view(reg).every((l) => l.endsWith('eu/eu-1/rack7')), 'the writes made across the close');
    t.deepEqual(view(reg), [...V1, 'reviews:80 reviews-v2 10.1.0.6:9080 healthy sidecar bookinfo-reviews eu/eu-1/', 'reviews:9100 reviews-v2 10.1.0.6:9100 healthy sidecar bookinfo-reviews eu/eu-1/'].map((l) => `${l}rack7`));
    await pollUntil(() => s.openWatches() === 4, 'four watches again');
    t.deepEqual(['services', 'endpointslices', 'pods', 'nodes'].map((r) => lists(s, r)), before, 'no relist after a plain close');
  });
});

test('kube registry: 410 Gone after a gap forces a relist; objects deleted during the gap are not kept', async (t) => {
  await withRegistry(async (s, reg) => {
    await call(s, 'POST', `${NS}/services`, service('ratings', [{ name: 'http', port: 9080 }]));
    await call(s, 'POST', `${NS}/pods`, pod('ratings-v1', { labels: { app: 'ratings' } }));
    await call(s, 'POST', SLICES, slice('ratings-a', 'ratings', [ep('10.1.0.7', 'ratings-v1')], [{ name: 'http', port: 9080 }]));
    await pollUntil(() => view(reg).length === 3, 'ratings');
    const before = lists(s, 'endpointslices');

    s.holdWatches();
    s.closeWatches();
    // During the gap: ratings goes away entirely, details arrives, reviews-v1 moves.
    await call(s, 'DELETE', `${SLICES}/ratings-a`);
    await call(s, 'DELETE', `${NS}/services/ratings`);
    await call(s, 'DELETE', `${NS}/pods/ratings-v1`);
    await call(s, 'POST', `${NS}/services`, service('details', [{ name: 'http', port: 9080 }]));
    await call(s, 'POST', `${NS}/pods`, pod('details-v1', { labels: { app: 'details' } }));
    await call(s, 'POST', SLICES, slice('details-a', 'details', [ep('10.1.0.8', 'details-v1')], [{ name: 'http', port: 9080 }]));
    await call(s, 'PATCH', `${SLICES}/reviews-a`, { endpoints: [ep('10.1.0.15', 'reviews-v1')] });
    s.compactTo();
    s.releaseWatches();

    await pollUntil(() => services(reg).join() === 'details http:9080/http,reviews http:80/http,tcp-metrics:9100/tcp' && view(reg).length === 3 && view(reg).some((l) => l.includes('10.1.0.15')), 'the relisted state');
    t.deepEqual(view(reg), [
      'details:9080 details-v1 10.1.0.8:9080 healthy sidecar bookinfo-reviews //',
      'reviews:80 reviews-v1 10.1.0.15:9080 healthy sidecar bookinfo-reviews eu/eu-1/',
      'reviews:9100 reviews-v1 10.1.0.15:9100 healthy sidecar bookinfo-reviews eu/eu-1/',
    ]);
    t.true(lists(s, 'endpointslices') > before, 'the 410 made the slices informer relist');
    // And it watches again: a later write still arrives.
    await call(s, 'DELETE', `${SLICES}/details-a`);
    await pollUntil(() => view(reg).length === 2, 'the delete after the relist');
    t.false(view(reg).some((l) => l.startsWith('details')));
  });
});

test('kube registry: bookmarks keep a quiet watch current, so a re-watch after compaction needs no relist', async (t) => {
  await withRegistry(async (s, reg) => {
    await pollUntil(() => view(reg).length === 2 && s.openWatches() === 4, 'synced and watching');
    t.true(s.requests().some((r) => r.query['watch'] === 'true' && r.query['allowWatchBookmarks'] === 'true'), 'the watches ask for bookmarks');
    // Writes the registry does not watch move the server's resourceVersion past the informers'.
    for (let i = 0; i < 5; i++) await call(s, 'POST', `${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `c${i}`, namespace: 'bookinfo' } });
    const before = ['services', 'endpointslices', 'pods', 'nodes'].map((r) => lists(s, r));
    // A bookmark at the latest resourceVersion, then compaction to it and a close: each stream
    // carries the bookmark before its end, so every informer re-watches from the latest version.
    s.bookmark();
    s.compactTo();
    s.closeWatches();
    await call(s, 'POST', `${NS}/pods`, pod('reviews-v9'));
    await call(s, 'PATCH', `${SLICES}/reviews-a`, { endpoints: [ep('10.1.0.5', 'reviews-v1'), ep('10.1.0.9', 'reviews-v9')] });
    await pollUntil(() => view(reg).length === 4, 'the writes after the re-watch');
    await pollUntil(() => s.openWatches() === 4, 'four watches again');
    const after = ['services', 'endpointslices', 'pods', 'nodes'].map((r) => lists(s, r));
    // No informer saw an event since its list: only the bookmark moved its resourceVersion.
    t.deepEqual(after, before, 'no informer relisted');
  });
});

test('kube registry: an informer whose list fails is restarted after retryDelayMs and catches up', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST, bearerToken: 'right' });
  const kc = s.kubeConfig();
  const withToken = (token: string): void => {
    const cluster = kc.getCurrentCluster();
    if (cluster === null) throw new Error('the test server kubeconfig has no cluster');
    kc.loadFromOptions({ clusters: [cluster], users: [{ name: 'u', token }], contexts: [{ name: 'c', cluster: cluster.name, user: 'u' }], currentContext: 'c' });
  };
  withToken('wrong');
  await seed(s);
  const reg = createKubeRegistry({ cluster: 'east', domainSuffix: 'cluster.local', kubeConfig: kc, logger: silentLogger, retryDelayMs: 20 });
  try {
    await reg.synced();
    await pollUntil(() => s.requests().filter((r) => r.status === 401).length >= 8, 'refused lists, retried');
    t.deepEqual(view(reg), []);
    withToken('right');
    await pollUntil(() => view(reg).length === 2 && s.openWatches() === 4, 'the registry to catch up');
    t.deepEqual(view(reg), V1);
  } finally {
    reg.close();
    await s.close();
  }
});

test('Pilot with registries kube and federation builds its snapshot from the API server and pushes on a change', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST });
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-kube-pilot-'));
  try {
    await seed(s);
    const pilot = await createPilot({
      cluster: 'east',
      trustDomain: 'cluster.local',
      configDir: path.join(dir, 'config'),
      registries: ['kube', 'federation'],
      kubeconfig: s.kubeConfig(),
      gatewayAddress: '127.140.1.2',
      debounceMs: 10,
      logger: silentLogger,
    });
    t.teardown(() => pilot.close());
    const H = 'reviews.bookinfo.svc.cluster.local';
    const served = (): string[] =>
      (pilot.snapshot().endpoints.get(H) ?? []).map((e) => `${e.workload} ${e.port} ${e.kind === 'local' ? `${e.address}:${e.targetPort ?? e.port}` : ''}`);
    await pollUntil(() => served().length === 2, 'the kube endpoints in the snapshot');
    t.deepEqual(served(), ['reviews-v1 80 10.1.0.5:9080', 'reviews-v1 9100 10.1.0.5:9100']);
    t.deepEqual(pilot.snapshot().services.get(H)?.ports, [{ port: 80, protocol: 'http' }, { port: 9100, protocol: 'tcp' }]);
    t.is(pilot.snapshot().gatewayAddress, '127.140.1.2');

    const reasons: string[] = [];
    pilot.onPush((_snap, reason) => reasons.push(reason));
    await call(s, 'PATCH', `${SLICES}/reviews-a`, { endpoints: [ep('10.1.0.5', 'reviews-v1', { ready: false })] });
    await pollUntil(() => served().length === 0, 'the not-ready endpoint left out');
    t.true(reasons.includes('registry:kube'));
    t.deepEqual(pilot.snapshot().workloads.get('east/bookinfo/reviews-v1')?.map((e) => e.port), [80, 9100], 'the workload keeps its own endpoints');

    await call(s, 'PATCH', `${NS}/services/reviews`, { spec: { ports: [{ name: 'x', port: 80, appProtocol: 'thrift' }] } });
    await pollUntil(() => pilot.registryErrors().length > 0, 'the refused service reported');
    t.regex(pilot.registryErrors()[0] ?? '', /^Service bookinfo\/reviews: spec\.ports\[0\]\.appProtocol: unknown protocol "thrift"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.close();
  }
});
