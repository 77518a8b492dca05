/** The root certificate's ConfigMap and caBundle as pure functions, by table. Binds nothing. */
import test from 'ava';
import { type ConfigMapLike, caBundleOf, caBundlePatch, type NamespaceLike, rootCertConfigMapAction } from '../../src/citadel/kube/index.ts';

const ROOT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const ns = (name: string, phase = 'Active'): NamespaceLike => ({ metadata: { name }, status: { phase } });
const cm = (data: Record<string, string> | undefined, namespace = 'shop'): ConfigMapLike => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'meshfed-ca-root-cert', namespace, resourceVersion: '7', labels: { team: 'a' } },
  ...(data === undefined ? {} : { data }),
});

const actions: [string, NamespaceLike | undefined, ConfigMapLike | undefined, unknown][] = [
  ['a namespace without the ConfigMap: create it', ns('shop'), undefined, {
    action: 'create',
    body: {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'meshfed-ca-root-cert', namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'meshfed' } },
      data: { 'root-cert.pem': ROOT },
    },
  }],
  ['up to date: nothing', ns('shop'), cm({ 'root-cert.pem': ROOT }), { action: 'none', reason: 'up to date' }],
  ['an edited root: update, keeping other keys, labels and resourceVersion', ns('shop'), cm({ 'root-cert.pem': 'x', other: 'y' }), {
    action: 'update',
    body: { ...cm({}), data: { 'root-cert.pem': ROOT, other: 'y' } },
  }],
  ['no data at all: update', ns('shop'), cm(undefined), { action: 'update', body: { ...cm({}), data: { 'root-cert.pem': ROOT } } }],
  ['a namespace gone', undefined, cm({}), { action: 'none', reason: 'the namespace does not exist' }],
  ['a terminating namespace', ns('shop', 'Terminating'), undefined, { action: 'none', reason: 'shop is terminating' }],
  ['kube-system', ns('kube-system'), undefined, { action: 'none', reason: 'kube-system is never published into' }],
  ['kube-node-lease', ns('kube-node-lease'), undefined, { action: 'none', reason: 'kube-node-lease is never published into' }],
];
for (const [title, namespace, current, want] of actions) {
  test(`rootCertConfigMapAction: ${title}`, (t) => {
    t.deepEqual(rootCertConfigMapAction(namespace, current, ROOT), want);
  });
}

test('caBundleOf is the PEM text base64-encoded', (t) => {
  t.is(Buffer.from(caBundleOf(ROOT), 'base64').toString('utf8'), ROOT);
});

const B = caBundleOf(ROOT);
const hook = (name: string, caBundle?: string) => ({ name, clientConfig: { service: { name: 'cp', namespace: 'meshfed-system' }, ...(caBundle === undefined ? {} : { caBundle }) } });
const patches: [string, unknown, unknown][] = [
  ['every webhook without a caBundle', { webhooks: [hook('a'), hook('b')] }, [
    { op: 'test', path: '/webhooks/0/name', value: 'a' },
    { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: B },
    { op: 'test', path: '/webhooks/1/name', value: 'b' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: B },
  ]],
  ['only the stale one', { webhooks: [hook('a', B), hook('b', 'Zm9v'), hook('c', B)] }, [
    { op: 'test', path: '/webhooks/1/name', value: 'b' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: B },
  ]],
  ['all current: no patch', { webhooks: [hook('a', B)] }, []],
  ['no webhooks', { metadata: { name: 'x' } }, []],
  ['a webhook without clientConfig is left alone', { webhooks: [{ name: 'a' }, hook('b')] }, [
    { op: 'test', path: '/webhooks/1/name', value: 'b' },
    { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: B },
  ]],
  ['not an object', 'nonsense', []],
];
for (const [title, config, want] of patches) {
  test(`caBundlePatch: ${title}`, (t) => {
    t.deepEqual(caBundlePatch(config, B), want);
  });
}
