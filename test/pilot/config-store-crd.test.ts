/**
 * The CRD config store against the Kubernetes list/watch test server: the same ConfigObjects as a
 * folder store (networking, security and MCS kinds), and every list/watch case (events, relist after 410 Gone, re-watch after a
 * server-side close, bookmarks). Loopback: 127.139.2.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { CRD_KINDS, createCrdConfigStore, type CrdConfigStore } from '../../src/pilot/config/crd/index.ts';
import { type ConfigObject, createFolderConfigStore, parseConfigText } from '../../src/pilot/config/index.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { pollUntil, silentLogger } from './support/wait.ts';

const HOST = '127.139.2.1';

const DOCS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: 90 }
    - { destination: { host: reviews, subset: v2 }, weight: 10 }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: shop }
spec:
  hosts: [httpbin.org]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: shop }
spec:
  egress: [{ hosts: ["./*", "istio-system/*"] }]
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: { name: reviews, namespace: default }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-trace, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { methods: [TRACE] } }] }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: shop }
spec:
  mtls: { mode: STRICT }
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: shop }
spec:
  jwtRules: [{ issuer: https://issuer.example, jwks: '{"keys":[]}' }]
`;

const PLURALS: Record<string, string> = {
  VirtualService: 'virtualservices',
  DestinationRule: 'destinationrules',
  ServiceEntry: 'serviceentries',
  Sidecar: 'sidecars',
  ServiceExport: 'serviceexports',
  AuthorizationPolicy: 'authorizationpolicies',
  PeerAuthentication: 'peerauthentications',
  RequestAuthentication: 'requestauthentications',
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
}

function collectionPath(d: Doc): string {
  return `/apis/${d.apiVersion}/namespaces/${d.metadata.namespace ?? 'default'}/${PLURALS[d.kind] ?? 'unknown'}`;
}

async function send(s: KubeListWatchTestServer, method: 'POST' | 'PUT' | 'DELETE', p: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await request(`${s.url}${p}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const json = (await res.body.json()) as Record<string, unknown>;
  if (res.statusCode >= 300) throw new Error(`${method} ${p}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

const create = (s: KubeListWatchTestServer, d: Doc) => send(s, 'POST', collectionPath(d), d);
const replace = (s: KubeListWatchTestServer, d: Doc) => send(s, 'PUT', `${collectionPath(d)}/${d.metadata.name}`, d);
const remove = (s: KubeListWatchTestServer, d: Doc) => send(s, 'DELETE', `${collectionPath(d)}/${d.metadata.name}`);

const vs = (name: string, weight = 100): Doc => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
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

/** Everything but `source`, which names where an object came from (a file or a custom resource). */
const comparable = (objects: ConfigObject[]) => objects.map(({ source: _s, ...rest }) => rest);
const names = (store: CrdConfigStore) => store.list().map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);

async function setup(t: { teardown: (fn: () => Promise<void> | void) => void }) {
  const server = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => server.close());
  let changes = 0;
  const open = async (): Promise<CrdConfigStore> => {
    const store = createCrdConfigStore({ kubeConfig: server.kubeConfig(), logger: silentLogger });
    t.teardown(() => store.stop());
    store.onChange(() => {
      changes += 1;
    });
    await store.synced();
    return store;
  };
  const lists = (plural: string) => server.requests().filter((r) => r.method === 'GET' && r.path.endsWith(`/${plural}`) && r.query['watch'] !== 'true').length;
  const watches = (plural: string) => server.requests().filter((r) => r.path.endsWith(`/${plural}`) && r.query['watch'] === 'true');
  return { server, open, lists, watches, changes: () => changes };
}

test('custom resources give the same ConfigObjects as the same documents in a folder', async (t) => {
  const { server, open } = await setup(t);
  const docs = parseAllDocuments(DOCS).map((d) => d.toJS() as Doc);
  for (const d of docs) await create(server, d);
  const store = await open();

  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-crd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'all.yaml'), DOCS);
  const folder = createFolderConfigStore(dir, silentLogger);
  t.teardown(() => folder.close());

  t.deepEqual(folder.errors(), []);
  t.deepEqual(store.errors(), []);
  t.is(store.list().length, 8);
  t.deepEqual(comparable(store.list()), comparable(folder.list()));
  t.deepEqual(
    store.list().map((o) => o.source),
    [
      'kubernetes:authorizationpolicies.security.istio.io/default/deny-trace',
      'kubernetes:destinationrules.networking.istio.io/default/reviews',
      'kubernetes:peerauthentications.security.istio.io/shop/default',
      'kubernetes:requestauthentications.security.istio.io/shop/jwt',
      'kubernetes:serviceentries.networking.istio.io/shop/httpbin',
      'kubernetes:serviceexports.multicluster.x-k8s.io/default/reviews',
      'kubernetes:sidecars.networking.istio.io/shop/default',
      'kubernetes:virtualservices.networking.istio.io/default/reviews',
    ],
  );
});

test('a bad field is reported with its path, as a file would be; the last valid version stays; a fix clears it', async (t) => {
  const { server, open } = await setup(t);
  await create(server, vs('ratings', 100));
  const store = await open();
  await replace(server, vs('ratings', 101));
  await pollUntil(() => store.errors().length > 0, 'the bad edit');
  t.deepEqual(store.errors().map(String), [
    'kubernetes:virtualservices.networking.istio.io/default/ratings: VirtualService default/ratings: spec.http[0].route[0].weight: must be an integer 0..100',
    'kubernetes:virtualservices.networking.istio.io/default/ratings: VirtualService default/ratings: spec.http[0].route[1].weight: must be an integer 0..100',
  ]);
  const asFile = parseConfigText(JSON.stringify(vs('ratings', 101)), 'ratings.yaml');
  t.deepEqual(
    asFile.ok ? [] : asFile.errors.map((e) => `${e.code} ${e.path}: ${e.message}`),
    store.errors().map((e) => `${e.code} ${e.path}: ${e.message}`),
    'the same errors as the document in a file',
  );
  const weight = () => {
    const o = store.list()[0];
    return o?.kind === 'VirtualService' ? o.spec.http[0]?.route[0]?.weight : undefined;
  };
  t.is(weight(), 100, 'the last valid version stays in effect');
  await replace(server, vs('ratings', 50));
  await pollUntil(() => store.errors().length === 0, 'the fix');
  t.is(weight(), 50);
  // An unknown field is rejected with its path, not ignored.
  await create(server, { ...vs('typo'), spec: { hosts: ['typo'], htpp: [] } });
  await pollUntil(() => store.errors().length === 1, 'the unknown field');
  t.regex(String(store.errors()[0]), /VirtualService default\/typo: spec.htpp: unknown field$/);
  t.deepEqual(names(store), ['VirtualService default/ratings']);
});

test('ADDED, MODIFIED and DELETED reach list() and onChange; a status-only write does not', async (t) => {
  const { server, open, changes } = await setup(t);
  const store = await open();
  t.deepEqual(store.list(), []);
  const before = changes();
  await create(server, vs('a'));
  await pollUntil(() => store.list().length === 1, 'ADDED');
  await replace(server, vs('a', 70));
  await pollUntil(() => {
    const o = store.list()[0];
    return o?.kind === 'VirtualService' && o.spec.http[0]?.route[0]?.weight === 70;
  }, 'MODIFIED');
  const afterEdits = changes();
  t.is(afterEdits - before, 2);
  await send(server, 'PUT', '/apis/networking.istio.io/v1/namespaces/default/virtualservices/a/status', {
    ...(server.get('networking.istio.io', 'virtualservices', 'default', 'a') ?? {}),
    status: { conditions: [] },
  });
  await create(server, vs('b'));
  await pollUntil(() => store.list().length === 2, 'ADDED b');
  t.is(changes() - afterEdits, 1, 'the status write before b caused no change');
  await remove(server, vs('a'));
  await pollUntil(() => store.list().length === 1, 'DELETED');
  t.deepEqual(names(store), ['VirtualService default/b']);
});

test('after 410 Gone the store relists: an object deleted in the gap disappears, one added appears, one edited is current', async (t) => {
  const { server, open, lists, watches } = await setup(t);
  await create(server, vs('stays'));
  await create(server, vs('edited', 10));
  await create(server, vs('deleted'));
  const store = await open();
  t.is(lists('virtualservices'), 1);
  const watchesBefore = watches('virtualservices').length;
  server.holdWatches();
  server.closeWatches();
  await pollUntil(() => watches('virtualservices').length === watchesBefore + 1, 'the held re-watch');
  await remove(server, vs('deleted'));
  await create(server, vs('added'));
  await replace(server, vs('edited', 20));
  server.compactTo();
  t.deepEqual(names(store), ['VirtualService default/deleted', 'VirtualService default/edited', 'VirtualService default/stays'], 'nothing seen during the gap');
  server.releaseWatches();
  await pollUntil(() => lists('virtualservices') === 2, 'the relist');
  await pollUntil(() => names(store).join() === 'VirtualService default/added,VirtualService default/edited,VirtualService default/stays', 'the relisted state');
  const edited = store.list().find((o) => o.metadata.name === 'edited');
  t.is(edited?.kind === 'VirtualService' ? edited.spec.http[0]?.route[0]?.weight : undefined, 20);
  // The watch resumes after the relist: a later event arrives.
  await create(server, vs('later'));
  await pollUntil(() => store.list().length === 4, 'an event after the relist');
  t.deepEqual(store.errors(), []);
});

test('after a server-side close the store re-watches from its resourceVersion, without a relist, and loses no event', async (t) => {
  const { server, open, lists, watches } = await setup(t);
  await create(server, vs('a'));
  const store = await open();
  const before = watches('virtualservices').length;
  server.holdWatches();
  server.closeWatches();
  await pollUntil(() => watches('virtualservices').length === before + 1, 'the held re-watch');
  // Written while no watch is open; the re-watch replays them from its resourceVersion.
  await create(server, vs('b'));
  await remove(server, vs('a'));
  server.releaseWatches();
  await pollUntil(() => names(store).join() === 'VirtualService default/b', 'the replayed events');
  t.is(lists('virtualservices'), 1, 'no relist');
  const rewatch = watches('virtualservices').at(-1);
  t.is(rewatch?.query['resourceVersion'], '1', 'resumed from the last resourceVersion it had seen');
});

test('bookmarks move the resourceVersion of an idle watch, so a re-watch after compaction needs no relist', async (t) => {
  const { server, open, lists, watches } = await setup(t);
  await create(server, vs('a'));
  const store = await open();
  t.true(watches('virtualservices').every((w) => w.query['allowWatchBookmarks'] === 'true'));
  // Writes to another kind move the global resourceVersion; the virtualservices watch sees none.
  await create(server, { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'a', namespace: 'default' } });
  await create(server, { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'b', namespace: 'default' } });
  await pollUntil(() => store.list().length === 3, 'the exports');
  const rv = server.resourceVersion();
  const before = watches('virtualservices').length;
  server.bookmark();
  server.compactTo(rv);
  server.closeWatches();
  await pollUntil(() => watches('virtualservices').length === before + 1 && server.openWatches() === CRD_KINDS.length, 'the re-watches');
  t.is(watches('virtualservices').at(-1)?.query['resourceVersion'], String(rv), 'resumed from the bookmark');
  t.is(lists('virtualservices'), 1, 'no relist after the bookmark');
  await create(server, vs('b'));
  await pollUntil(() => store.list().length === 4, 'an event after the re-watch');
  t.deepEqual(store.errors(), []);
});

test('a list that fails (401) is reported as CONFIG_IO per kind and retried', async (t) => {
  const server = await startKubeListWatchTestServer({ host: HOST, bearerToken: 'right' });
  t.teardown(() => server.close());
  const store = createCrdConfigStore({ kubeConfig: server.kubeConfig('wrong'), logger: silentLogger, restartDelayMs: 20 });
  t.teardown(() => store.stop());
  await pollUntil(() => store.errors().length === 8, 'eight failing kinds');
  t.true(store.errors().every((e) => e.code === 'CONFIG_IO'));
  t.regex(String(store.errors()[0]), /^kubernetes:authorizationpolicies\.security\.istio\.io: authorizationpolicies\.security\.istio\.io: /);
  const retried = server.requests().filter((r) => r.path.endsWith('/virtualservices')).length;
  await pollUntil(() => server.requests().filter((r) => r.path.endsWith('/virtualservices')).length > retried, 'a retry');
});

test('security kinds are watched: a RequestAuthentication added after the list arrives, a bad one is reported with its path', async (t) => {
  const { server, open } = await setup(t);
  const store = await open();
  const ra = (name: string, rule: Record<string, unknown>): Doc => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'RequestAuthentication',
    metadata: { name, namespace: 'default' },
    spec: { jwtRules: [rule] },
  });
  await create(server, ra('good', { issuer: 'https://issuer.example', jwks: '{"keys":[]}' }));
  await pollUntil(() => names(store).includes('RequestAuthentication default/good'), 'the watched RequestAuthentication');
  await create(server, ra('bad', { issuer: 'https://issuer.example', fromCookies: ['session'] }));
  await pollUntil(() => store.errors().length > 0, 'the bad RequestAuthentication reported');
  t.true(store.errors().some((e) => e.path === 'spec.jwtRules[0].fromCookies' && e.code === 'CONFIG_UNSUPPORTED'), store.errors().map(String).join('\n'));
  t.false(names(store).includes('RequestAuthentication default/bad'));
});
