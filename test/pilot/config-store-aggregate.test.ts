/**
 * `file` and `crd` config stores served as one (createConfigStores): the union of both, an
 * object defined in both kept from the first store and the other reported as a duplicate, changes
 * of either reaching the listeners. Loopback: 127.142.5.1 (the Kubernetes list/watch test server).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createConfigStores } from '../../src/pilot/config/index.ts';
import { startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { kubeCall } from '../support/kube-test-client.ts';
import { pollUntil, silentLogger } from './support/wait.ts';

const vs = (name: string) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
  spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] },
});
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';

test('file and crd stores as one: union, duplicates reported, changes of both seen', async (t) => {
  const kube = await startKubeListWatchTestServer({ host: '127.142.5.1' });
  t.teardown(() => kube.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-aggregate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'reviews.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec: {hosts: [reviews], http: [{route: [{destination: {host: reviews}}]}]}\n');
  await kubeCall(kube, 'POST', VS_PATH, vs('ratings'));
  await kubeCall(kube, 'POST', VS_PATH, vs('reviews'));

  const r = await createConfigStores(['file', 'crd'], { domainSuffix: 'cluster.local', logger: silentLogger, configDir: dir, kubeconfig: kube.kubeConfig() });
  if (!r.ok) throw new Error(r.errors.join('; '));
  const store = r.value;
  t.teardown(() => store.close());
  let changes = 0;
  store.onChange(() => {
    changes += 1;
  });
  const names = () => store.list().map((o) => `${o.metadata.name} ${o.source.startsWith('kubernetes:') ? 'crd' : 'file'}`);
  await pollUntil(() => names().length === 2, 'both stores listed', 10_000);
  t.deepEqual(names(), ['ratings crd', 'reviews file'], 'the first store keeps an object defined in both');
  t.deepEqual(
    store.errors().map((e) => [e.code, e.source, e.message]),
    [['CONFIG_DUPLICATE', 'kubernetes:virtualservices.networking.istio.io/default/reviews', 'already defined in reviews.yaml']],
  );

  const before = changes;
  await kubeCall(kube, 'POST', VS_PATH, vs('details'));
  await pollUntil(() => names().includes('details crd'), 'a new custom resource', 10_000);
  t.true(changes > before);
  await store.close();
  await pollUntil(() => kube.openWatches() === 0, 'closing stops the informers', 10_000);
  t.is(kube.openWatches(), 0);
});
