/**
 * The root-certificate publisher against the Kubernetes list/watch test server: writes only while
 * allowed (then reconciles everything on resync), and loses nothing across a server-side close and
 * a 410 Gone relist. Loopback: 127.142.3.1.
 */
import test from 'ava';
import { startRootCertPublisher } from '../../src/citadel/kube/index.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { kubeCall } from '../support/kube-test-client.ts';
import { pollUntil, silentLogger } from '../pilot/support/wait.ts';

const HOST = '127.142.3.1';
const ROOT = '-----BEGIN CERTIFICATE-----\nMIIBroot\n-----END CERTIFICATE-----\n';
const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });
const validating = {
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingWebhookConfiguration',
  metadata: { name: 'meshfed-validator-meshfed-system' },
  webhooks: [{ name: 'validation.meshfed.io', clientConfig: { service: { name: 'meshfed-controlplane', namespace: 'meshfed-system', path: '/validate' } } }],
};

async function setup(t: { teardown: (fn: () => Promise<void>) => void }): Promise<KubeListWatchTestServer> {
  const s = await startKubeListWatchTestServer({ host: HOST });
  t.teardown(() => s.close());
  for (const ns of ['default', 'shop']) await kubeCall(s, 'POST', '/api/v1/namespaces', namespace(ns));
  await kubeCall(s, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', validating);
  return s;
}

const rootIn = (s: KubeListWatchTestServer, ns: string) => (s.get('', 'configmaps', ns, 'meshfed-ca-root-cert')?.['data'] as Record<string, string> | undefined)?.['root-cert.pem'];
const writes = (s: KubeListWatchTestServer) => s.requests().filter((r) => r.method !== 'GET');

test('writes nothing while not allowed; resync, once allowed, publishes everything', async (t) => {
  const s = await setup(t);
  let allowed = false;
  const p = startRootCertPublisher({
    kubeConfig: s.kubeConfig(),
    rootCertPem: ROOT,
    webhookConfigurations: { validating: ['meshfed-validator-meshfed-system'], mutating: ['absent'] },
    logger: silentLogger,
    canWrite: () => allowed,
    retryBaseDelayMs: 20,
  });
  t.teardown(() => p.close());
  await p.idle();
  const before = writes(s).length;
  t.is(rootIn(s, 'default'), undefined);
  allowed = true;
  p.resync();
  await p.idle();
  t.is(rootIn(s, 'default'), ROOT);
  t.is(rootIn(s, 'shop'), ROOT);
  const hook = s.get('admissionregistration.k8s.io', 'validatingwebhookconfigurations', '', 'meshfed-validator-meshfed-system') as unknown as typeof validating & {
    webhooks: { clientConfig: { caBundle?: string } }[];
  };
  t.is(hook.webhooks[0]?.clientConfig.caBundle, Buffer.from(ROOT).toString('base64'));
  t.is(writes(s).length - before, 3, 'two ConfigMaps created and one patch');

  // Nothing changes: a resync writes nothing.
  const settled = writes(s).length;
  p.resync();
  await p.idle();
  t.is(writes(s).length, settled);
});

test('a delete missed across a server-side close and a 410 Gone relist is still repaired', async (t) => {
  const s = await setup(t);
  const p = startRootCertPublisher({ kubeConfig: s.kubeConfig(), rootCertPem: ROOT, logger: silentLogger, retryBaseDelayMs: 20, restartDelayMs: 20 });
  t.teardown(() => p.close());
  await p.idle();
  await pollUntil(() => rootIn(s, 'shop') === ROOT, 'first publish');

  // The watches go away and stay away while the ConfigMap is deleted and a namespace is added;
  // the history is compacted, so the re-watch gets 410 Gone and the informers relist.
  s.holdWatches();
  s.closeWatches();
  await kubeCall(s, 'DELETE', '/api/v1/namespaces/shop/configmaps/meshfed-ca-root-cert');
  await kubeCall(s, 'POST', '/api/v1/namespaces', namespace('late'));
  s.compactTo();
  const listsBefore = s.requests().filter((r) => r.path === '/api/v1/configmaps' && r.query['watch'] !== 'true').length;
  s.releaseWatches();
  await pollUntil(() => rootIn(s, 'shop') === ROOT && rootIn(s, 'late') === ROOT, 'repaired after the relist', 20_000);
  const listsAfter = s.requests().filter((r) => r.path === '/api/v1/configmaps' && r.query['watch'] !== 'true').length;
  t.true(listsAfter > listsBefore, 'the ConfigMaps were relisted after 410 Gone');
  t.is(rootIn(s, 'default'), ROOT);
});
