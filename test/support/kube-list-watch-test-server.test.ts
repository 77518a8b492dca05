/**
 * The Kubernetes list/watch test server, shown with a raw HTTP client (undici) and with
 * `@kubernetes/client-node` (typed APIs and `makeInformer`). Loopback: 127.139.1.1.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiException,
  AuthenticationV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
  type KubernetesObject,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import test from 'ava';
import { request } from 'undici';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from './kube-list-watch-test-server.ts';

const HOST = '127.139.1.1';

interface Event {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string; spec?: unknown };
}

async function withServer(fn: (s: KubeListWatchTestServer) => Promise<void>): Promise<void> {
  const s = await startKubeListWatchTestServer({ host: HOST });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

async function call(s: KubeListWatchTestServer, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType = 'application/json') {
  const res = await request(`${s.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': contentType } }),
  });
  const json = (await res.body.json()) as Record<string, unknown> & { metadata?: Record<string, unknown> };
  return { status: res.statusCode, json };
}

/** Opens a raw watch; `next(n)` resolves with the next n events; `ended` when the server closes. */
async function rawWatch(s: KubeListWatchTestServer, path: string) {
  const res = await request(`${s.url}${path}`);
  const events: Event[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  let ended = false;
  const endedP = (async () => {
    try {
      await readAll();
    } catch {
      // destroyed by the test
    }
    ended = true;
    for (const w of waiters.splice(0)) w();
  })();
  async function readAll(): Promise<void> {
    for await (const chunk of res.body) {
      buf += String(chunk);
      let i = buf.indexOf('\n');
      while (i >= 0) {
        events.push(JSON.parse(buf.slice(0, i)) as Event);
        buf = buf.slice(i + 1);
        i = buf.indexOf('\n');
      }
      for (const w of waiters.splice(0)) w();
    }
  }
  let taken = 0;
  return {
    status: res.statusCode,
    async next(n: number): Promise<Event[]> {
      while (events.length < taken + n && !ended) await new Promise<void>((r) => waiters.push(r));
      const out = events.slice(taken, taken + n);
      taken += out.length;
      return out;
    },
    ended: endedP,
    isEnded: () => ended,
    pending: () => events.length - taken,
    destroy: () => res.body.destroy(),
  };
}

const GW = '/apis/networking.istio.io/v1/namespaces/default/gateways';
const gw = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'Gateway',
  metadata: { name },
  spec: { selector: { istio: 'ingress' } },
  ...extra,
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i += 1) {
    if (cond()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('list carries metadata.resourceVersion; create, get, update and delete keep it moving, with 409 on a stale one', async (t) => {
  await withServer(async (s) => {
    const created = await call(s, 'POST', GW, gw('a'));
    t.is(created.status, 201);
    t.is(created.json.metadata?.['resourceVersion'], '1');
    t.is(created.json.metadata?.['generation'], 1);
    t.is(created.json.metadata?.['namespace'], 'default');
    t.is((await call(s, 'POST', GW, gw('a'))).status, 409);

    const list = await call(s, 'GET', GW);
    t.is(list.status, 200);
    t.is(list.json['kind'], 'GatewayList');
    t.is(list.json.metadata?.['resourceVersion'], '1');
    t.is((list.json['items'] as unknown[]).length, 1);

    const updated = await call(s, 'PUT', `${GW}/a`, gw('a', { metadata: { name: 'a', resourceVersion: '1' }, spec: { selector: { istio: 'eastwest' } } }));
    t.is(updated.status, 200);
    t.is(updated.json.metadata?.['resourceVersion'], '2');
    t.is(updated.json.metadata?.['generation'], 2);

    const stale = await call(s, 'PUT', `${GW}/a`, gw('a', { metadata: { name: 'a', resourceVersion: '1' } }));
    t.is(stale.status, 409);
    t.is(stale.json['reason'], 'Conflict');
    t.is(stale.json['code'], 409);

    const noop = await call(s, 'PUT', `${GW}/a`, updated.json);
    t.is(noop.json.metadata?.['resourceVersion'], '2', 'an update that changes nothing does not move the resourceVersion');

    t.is((await call(s, 'GET', `${GW}/a`)).json.metadata?.['resourceVersion'], '2');
    t.is((await call(s, 'GET', `${GW}/missing`)).status, 404);
    t.is((await call(s, 'DELETE', `${GW}/a`, { preconditions: { resourceVersion: '1' } })).status, 409);
    const deleted = await call(s, 'DELETE', `${GW}/a`);
    t.is(deleted.status, 200);
    t.is(deleted.json.metadata?.['resourceVersion'], '3');
    t.is((await call(s, 'GET', `${GW}/a`)).status, 404);
    t.is(s.resourceVersion(), 3);
  });
});

test('cluster-scoped resources and a cluster-wide list of a namespaced resource', async (t) => {
  await withServer(async (s) => {
    t.is((await call(s, 'POST', '/api/v1/namespaces', { metadata: { name: 'prod' } })).status, 201);
    t.is((await call(s, 'GET', '/api/v1/namespaces/prod')).json['kind'], 'Namespace');
    await call(s, 'POST', GW, gw('a'));
    await call(s, 'POST', '/apis/networking.istio.io/v1/namespaces/prod/gateways', gw('b'));
    const all = await call(s, 'GET', '/apis/networking.istio.io/v1/gateways');
    t.deepEqual(
      (all.json['items'] as { metadata: { namespace: string; name: string } }[]).map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
      ['default/a', 'prod/b'],
    );
    const mismatch = await call(s, 'POST', GW, gw('c', { metadata: { name: 'c', namespace: 'prod' } }));
    t.is(mismatch.status, 400);
  });
});

test('watch from a resourceVersion replays later events, then streams ADDED, MODIFIED and DELETED live', async (t) => {
  await withServer(async (s) => {
    await call(s, 'POST', GW, gw('a'));
    await call(s, 'POST', GW, gw('b'));
    const w = await rawWatch(s, `${GW}?watch=true&resourceVersion=1`);
    t.is(w.status, 200);
    const replay = await w.next(1);
    t.deepEqual(
      replay.map((e) => [e.type, e.object.metadata?.name]),
      [['ADDED', 'b']],
    );
    await call(s, 'PATCH', `${GW}/a`, { spec: { selector: { app: 'x' } } }, 'application/merge-patch+json');
    await call(s, 'DELETE', `${GW}/b`);
    await call(s, 'POST', '/apis/networking.istio.io/v1/namespaces/other/gateways', gw('elsewhere'));
    await call(s, 'POST', GW, gw('c'));
    const live = await w.next(3);
    t.deepEqual(
      live.map((e) => [e.type, e.object.metadata?.name, e.object.metadata?.resourceVersion]),
      [
        ['MODIFIED', 'a', '3'],
        ['DELETED', 'b', '4'],
        ['ADDED', 'c', '6'],
      ],
    );
    const from0 = await rawWatch(s, `${GW}?watch=true&resourceVersion=0`);
    t.deepEqual(
      (await from0.next(2)).map((e) => [e.type, e.object.metadata?.name]),
      [
        ['ADDED', 'a'],
        ['ADDED', 'c'],
      ],
    );
    w.destroy();
    from0.destroy();
  });
});

test('compactTo makes a watch from an older resourceVersion end with ERROR 410 Expired', async (t) => {
  await withServer(async (s) => {
    await call(s, 'POST', GW, gw('a'));
    await call(s, 'POST', GW, gw('b'));
    await call(s, 'POST', GW, gw('c'));
    s.compactTo(2);
    const old = await rawWatch(s, `${GW}?watch=true&resourceVersion=1`);
    t.is(old.status, 200);
    const [err] = await old.next(1);
    t.is(err?.type, 'ERROR');
    t.is(err?.object.code, 410);
    t.is(err?.object.reason, 'Expired');
    await old.ended;
    t.is(old.pending(), 0, 'nothing follows the 410');
    const ok = await rawWatch(s, `${GW}?watch=true&resourceVersion=2`);
    t.deepEqual(
      (await ok.next(1)).map((e) => [e.type, e.object.metadata?.name]),
      [['ADDED', 'c']],
    );
    ok.destroy();
  });
});

test('closeWatches ends every open watch from the server side', async (t) => {
  await withServer(async (s) => {
    const a = await rawWatch(s, `${GW}?watch=true`);
    const b = await rawWatch(s, '/api/v1/namespaces/default/pods?watch=true');
    await until(() => s.openWatches() === 2, 'two watches');
    s.closeWatches();
    await a.ended;
    await b.ended;
    t.true(a.isEnded() && b.isEnded());
    t.is(s.openWatches(), 0);
  });
});

test('bookmark reaches only watches that allowed bookmarks, at the current resourceVersion', async (t) => {
  await withServer(async (s) => {
    await call(s, 'POST', GW, gw('a'));
    const with_ = await rawWatch(s, `${GW}?watch=true&resourceVersion=1&allowWatchBookmarks=true`);
    const without = await rawWatch(s, `${GW}?watch=true&resourceVersion=1`);
    await until(() => s.openWatches() === 2, 'two watches');
    await call(s, 'POST', '/apis/networking.istio.io/v1/namespaces/other/gateways', gw('b'));
    s.bookmark();
    const [bm] = await with_.next(1);
    t.is(bm?.type, 'BOOKMARK');
    t.is(bm?.object.metadata?.resourceVersion, '2');
    await call(s, 'POST', GW, gw('c'));
    const [next] = await without.next(1);
    t.is(next?.type, 'ADDED', 'the watch without allowWatchBookmarks saw no BOOKMARK first');
    t.is(next?.object.metadata?.name, 'c');
    with_.destroy();
    without.destroy();
  });
});

test('status subresource: PUT and merge patch change only .status; main writes keep it; generation counts spec changes', async (t) => {
  await withServer(async (s) => {
    await call(s, 'POST', GW, gw('a', { status: { ignored: true } }));
    const afterCreate = await call(s, 'GET', `${GW}/a`);
    const st = await call(s, 'PUT', `${GW}/a/status`, {
      ...afterCreate.json,
      spec: { selector: { changed: 'no' } },
      status: { conditions: [{ type: 'Reconciled', status: 'True' }] },
    });
    t.is(st.status, 200);
    t.deepEqual(st.json['spec'], { selector: { istio: 'ingress' } }, 'a status write does not change spec');
    t.is(st.json.metadata?.['generation'], 1);
    const main = await call(s, 'PUT', `${GW}/a`, { ...st.json, status: { conditions: [] }, spec: { selector: { app: 'y' } } });
    t.deepEqual(main.json['status'], { conditions: [{ type: 'Reconciled', status: 'True' }] }, 'a main write keeps status');
    t.is(main.json.metadata?.['generation'], 2);
    const patched = await call(s, 'PATCH', `${GW}/a/status`, { status: { observedGeneration: 2 } }, 'application/merge-patch+json');
    t.deepEqual(patched.json['status'], { conditions: [{ type: 'Reconciled', status: 'True' }], observedGeneration: 2 });
    const stale = await call(s, 'PATCH', `${GW}/a/status`, { metadata: { resourceVersion: '1' }, status: {} }, 'application/merge-patch+json');
    t.is(stale.status, 409);
    const jp = await call(s, 'PATCH', `${GW}/a`, [{ op: 'replace', path: '/spec/selector', value: { app: 'z' } }], 'application/json-patch+json');
    t.deepEqual(jp.json['spec'], { selector: { app: 'z' } });
    t.is((await call(s, 'PATCH', `${GW}/a`, { spec: {} }, 'application/strategic-merge-patch+json')).status, 415);
  });
});

test('client-node CustomObjectsApi: create, get, merge-patch status, 409 on stale replace', async (t) => {
  await withServer(async (s) => {
    const api = s.kubeConfig().makeApiClient(CustomObjectsApi);
    const base = { group: 'multicluster.x-k8s.io', version: 'v1alpha1', namespace: 'shop', plural: 'serviceexports' };
    const created = (await api.createNamespacedCustomObject({
      ...base,
      body: { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'cart' } },
    })) as KubernetesObject;
    t.is(created.metadata?.resourceVersion, '1');
    const patched = (await api.patchNamespacedCustomObjectStatus(
      { ...base, name: 'cart', body: { status: { conditions: [{ type: 'Valid', status: 'True' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as KubernetesObject & { status?: unknown };
    t.deepEqual(patched.status, { conditions: [{ type: 'Valid', status: 'True' }] });
    const got = (await api.getNamespacedCustomObject({ ...base, name: 'cart' })) as KubernetesObject;
    t.is(got.metadata?.resourceVersion, '2');
    const e = await t.throwsAsync(api.replaceNamespacedCustomObject({ ...base, name: 'cart', body: created }));
    t.true(e instanceof ApiException);
    t.is((e as ApiException<unknown>).code, 409);
  });
});

test('client-node CoordinationV1Api: Lease create, renew with its resourceVersion, 409 for the loser', async (t) => {
  await withServer(async (s) => {
    const api = s.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await api.createNamespacedLease({
      namespace: 'meshfed-system',
      body: { metadata: { name: 'status-writer' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new Date() } },
    });
    t.is(lease.kind, 'Lease');
    t.is(lease.spec?.holderIdentity, 'a');
    const renewed = await api.replaceNamespacedLease({
      name: 'status-writer',
      namespace: 'meshfed-system',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a', renewTime: new Date(Date.now() + 1000) } },
    });
    t.not(renewed.metadata?.resourceVersion, lease.metadata?.resourceVersion);
    const e = await t.throwsAsync(
      api.replaceNamespacedLease({ name: 'status-writer', namespace: 'meshfed-system', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } }),
    );
    t.is((e as ApiException<unknown>).code, 409);
    t.is(s.get('coordination.k8s.io', 'leases', 'meshfed-system', 'status-writer')?.['spec'] !== undefined, true);
  });
});

test('client-node AuthenticationV1Api: TokenReview for a registered token, a wrong audience and an unknown token', async (t) => {
  await withServer(async (s) => {
    s.registerToken('tok-good', { username: 'system:serviceaccount:shop:cart', groups: ['system:serviceaccounts'], audiences: ['meshfed-ca'] });
    s.registerToken('tok-api', { username: 'system:serviceaccount:shop:cart', audiences: ['https://kubernetes.default.svc.cluster.local'] });
    const api = s.kubeConfig().makeApiClient(AuthenticationV1Api);
    const review = (token: string) => api.createTokenReview({ body: { spec: { token, audiences: ['meshfed-ca'] } } });
    const good = await review('tok-good');
    t.true(good.status?.authenticated);
    t.is(good.status?.user?.username, 'system:serviceaccount:shop:cart');
    t.deepEqual(good.status?.audiences, ['meshfed-ca']);
    const wrong = await review('tok-api');
    t.false(wrong.status?.authenticated);
    t.regex(wrong.status?.error ?? '', /token audiences .* is invalid for the target audiences \["meshfed-ca"\]/);
    const unknown = await review('tok-nobody');
    t.false(unknown.status?.authenticated);
    t.regex(unknown.status?.error ?? '', /invalid bearer token/);
  });
});

test('a bearer token, when configured, is required on every request', async (t) => {
  const s = await startKubeListWatchTestServer({ host: HOST, bearerToken: 'admin' });
  try {
    t.is((await call(s, 'GET', GW)).status, 401);
    const api = s.kubeConfig().makeApiClient(CustomObjectsApi);
    const list = (await api.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: 'default', plural: 'gateways' })) as {
      items: unknown[];
    };
    t.deepEqual(list.items, []);
  } finally {
    await s.close();
  }
});

test('client-node informer: events, a relist after 410 that drops what was deleted in the gap, a re-watch after close', async (t) => {
  await withServer(async (s) => {
    const kc = s.kubeConfig();
    const api = kc.makeApiClient(CustomObjectsApi);
    const listFn = async () =>
      (await api.listNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: 'default', plural: 'gateways' })) as {
        metadata?: { resourceVersion?: string };
        items: KubernetesObject[];
      };
    await call(s, 'POST', GW, gw('a'));
    const informer = makeInformer(kc, GW, listFn);
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', (e) => seen.push(`error ${String(e)}`));
    const lists = () => s.requests().filter((r) => r.method === 'GET' && r.path === GW && r.query['watch'] !== 'true').length;
    const watches = () => s.requests().filter((r) => r.path === GW && r.query['watch'] === 'true').length;
    try {
      await informer.start();
      await until(() => s.openWatches() === 1, 'the informer watch');
      t.deepEqual(seen, ['add a']);
      await call(s, 'POST', GW, gw('b'));
      await call(s, 'PATCH', `${GW}/a`, { spec: { selector: { app: 'x' } } }, 'application/merge-patch+json');
      await until(() => seen.length === 3, 'add b, update a');
      t.deepEqual(seen.slice(1), ['add b', 'update a']);

      // Server-side close: the informer re-watches from its resourceVersion, without a relist.
      s.closeWatches();
      await until(() => watches() === 2 && s.openWatches() === 1, 're-watch');
      t.is(lists(), 1);
      await call(s, 'DELETE', `${GW}/b`);
      await until(() => seen.length === 4, 'delete b');
      t.is(seen[3], 'delete b');

      // 410: history compacted while the watch is down; the informer must relist.
      s.holdWatches();
      s.closeWatches();
      await until(() => watches() === 3, 'the held re-watch');
      await call(s, 'DELETE', `${GW}/a`);
      await call(s, 'POST', GW, gw('c'));
      s.compactTo();
      t.deepEqual(seen.length, 4, 'nothing seen during the gap');
      s.releaseWatches();
      await until(() => seen.length === 6, 'delete a and add c after the relist');
      t.deepEqual(seen.slice(4).sort(), ['add c', 'delete a']);
      t.is(lists(), 2, 'exactly one relist');
      t.deepEqual(
        informer
          .list()
          .map((o) => o.metadata?.name)
          .sort(),
        ['c'],
      );
    } finally {
      await informer.stop();
    }
  });
});
