/**
 * The compiled `meshfed controlplane` in Kubernetes mode against the Kubernetes list/watch test
 * server (the one accepted stand-in): `--registries kube,federation --config-stores crd --auth kube`.
 * - A VirtualService custom resource reaches Pilot's xDS (read by a raw ADS client on 15010), its
 *   status is written back under the Lease `meshfed-config-status`, an invalid one gets its errors
 *   in status, Citadel authenticates CSRs by TokenReview, and stopping the control plane releases
 *   the Lease.
 * - The `meshfed-ca-root-cert` ConfigMap appears in every namespace (and in a new one), is
 *   repaired after an edit and re-created after a delete; the webhook configurations `meshfed
 *   install` renders get the mesh root as every webhook's caBundle, repaired after an edit.
 * - With its API server unreachable, the control plane's `/ready` fails its `kube` check.
 * Loopback: 127.142.1.0/24 (the first test), 127.142.2.0/24 (the second), 127.142.6.0/24 (the
 * third); .1 the test server, .2 the control plane, .3 its gateway address.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { CertificateRequestError, initCa, requestCertificate } from '../../src/citadel/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from '../../src/cli/control-plane-name.ts';
import { installManifests } from '../../src/cli/install/install-render.ts';
import { parseInstallOptions } from '../../src/cli/install/install-options.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { type MeshfedProcess, startMeshfed } from '../support/cli.ts';
import { type KubeListWatchTestServer, startKubeListWatchTestServer } from '../support/kube-list-watch-test-server.ts';
import { kubeCall, writeKubeconfig } from '../support/kube-test-client.ts';
import { pollUntil } from '../pilot/support/wait.ts';
import { RawAdsStream, wireNode } from '../xds/support/raw-ads-stream.ts';

const TOKEN = 'controlplane-sa';
const VS_PATH = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';

interface Fixture {
  kube: KubeListWatchTestServer;
  cp: MeshfedProcess;
  address: string;
  rootPem: string;
}

const namespace = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name }, status: { phase: 'Active' } });

const vs = (name: string, user: string, weight = 100) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name, namespace: 'default' },
  spec: {
    hosts: [name],
    http: [
      { match: [{ headers: { 'end-user': { exact: user } } }], route: [{ destination: { host: name }, weight }] },
      { route: [{ destination: { host: name } }] },
    ],
  },
});

/** The cluster's objects: namespaces, and one Service `reviews` with a ready endpoint. */
async function seed(kube: KubeListWatchTestServer): Promise<void> {
  for (const ns of ['default', 'shop', 'kube-system', 'meshfed-system']) await kubeCall(kube, 'POST', '/api/v1/namespaces', namespace(ns), TOKEN);
  await kubeCall(kube, 'POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'reviews-v1', namespace: 'default', labels: { app: 'reviews', version: 'v1' }, annotations: { 'sidecar.istio.io/status': '{}' } },
    spec: { serviceAccountName: 'reviews', containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 9080 }] }] },
  }, TOKEN);
  await kubeCall(kube, 'POST', '/api/v1/namespaces/default/services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'reviews', namespace: 'default' },
    spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 9080 }] },
  }, TOKEN);
  await kubeCall(kube, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'reviews-a', namespace: 'default', labels: { 'kubernetes.io/service-name': 'reviews' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.1.0.5'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'reviews-v1', namespace: 'default' } }],
    ports: [{ name: 'http', port: 9080 }],
  }, TOKEN);
}

async function start(t: ExecutionContext, block: string, before: (kube: KubeListWatchTestServer) => Promise<void> = async () => {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-cp-kube-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kube = await startKubeListWatchTestServer({ host: `${block}.1`, bearerToken: TOKEN });
  t.teardown(() => kube.close());
  await seed(kube);
  await before(kube);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const kubeconfig = await writeKubeconfig(dir, kube, TOKEN);
  const address = `${block}.2`;
  const cp = startMeshfed(t, [
    'controlplane', '--cluster', 'east', '--address', address, '--ca-dir', path.join(dir, 'ca', 'east'),
    '--registries', 'kube,federation', '--config-stores', 'crd', '--kubeconfig', kubeconfig, '--auth', 'kube',
    '--gateway-address', `${block}.3`, '--sidecar-image', 'meshfed:test',
  ]);
  // A deadline for a loaded 2-core machine, not a performance bound.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(`http://${address}:15014/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    if (cp.exited() || Date.now() > deadline) throw new Error(`controlplane not ready:\n${cp.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return { kube, cp, address, rootPem: await readFile(path.join(dir, 'ca', 'east', 'root-cert.pem'), 'utf8') };
}

/** Polls the test server (no event to wait on from outside the control plane). */
const eventually = (what: string, check: () => boolean, cp: MeshfedProcess) =>
  pollUntil(check, what, 30_000).catch((e: unknown) => {
    throw new Error(`${String(e)}\ncontrolplane output:\n${cp.output()}`);
  });

interface Condition {
  type: string;
  status: string;
  reason: string;
}
const statusOf = (kube: KubeListWatchTestServer, name: string) =>
  kube.get('networking.istio.io', 'virtualservices', 'default', name)?.['status'] as
    | { conditions?: Condition[]; validationMessages?: { description: string }[]; observedGeneration?: number }
    | undefined;

test.serial('controlplane --config-stores crd: a VirtualService resource reaches xDS, its status is written under the Lease, released at stop', async (t) => {
  const f = await start(t, '127.142.1', async (kube) => {
    await kubeCall(kube, 'POST', VS_PATH, vs('reviews', 'jason'), TOKEN);
    await kubeCall(kube, 'POST', VS_PATH, vs('ratings', 'jason', 101), TOKEN);
  });

  // Pilot's xDS: the route for reviews carries the custom resource's header match.
  const ads = new RawAdsStream(`${f.address}:15010`, {
    node: wireNode({ type: 'sidecar', ip: '10.1.0.9', workload: 'productpage-v1', namespace: 'default', cluster: 'east', serviceAccount: 'productpage', labels: {} }),
  });
  t.teardown(() => ads.close());
  ads.send({ typeUrl: TYPE_URL.route, names: ['outbound'] });
  const first = await ads.next();
  t.is(first.type_url, TYPE_URL.route);
  const routes = JSON.stringify(first.resources);
  t.regex(routes, /reviews\.default\.svc\.cluster\.local/, routes);
  t.regex(routes, /jason/, 'the VirtualService from the custom resource is in RDS');
  ads.ack(first, ['outbound']);

  // Status, written by the control plane holding the Lease.
  await eventually('status of the valid VirtualService', () => statusOf(f.kube, 'reviews')?.conditions?.[0]?.status === 'True', f.cp);
  t.like(statusOf(f.kube, 'reviews'), { observedGeneration: 1, conditions: [{ type: 'Reconciled', status: 'True', reason: 'Accepted' }] });
  await eventually('status of the invalid VirtualService', () => statusOf(f.kube, 'ratings')?.conditions?.[0]?.status === 'False', f.cp);
  t.regex(statusOf(f.kube, 'ratings')?.validationMessages?.[0]?.description ?? '', /spec\.http\[0\]\.route\[0\]\.weight/);
  const lease = () => f.kube.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-config-status')?.['spec'] as { holderIdentity?: string } | undefined;
  t.regex(lease()?.holderIdentity ?? '', /_[0-9a-f-]{36}$/, 'the Lease is held by the control plane');
  const statusWrites = f.kube.requests().filter((r) => r.method === 'PUT' && r.path.endsWith('/status'));
  t.true(statusWrites.every((r) => r.token === TOKEN), 'written with the kubeconfig the control plane was given');

  // An edit reaches xDS as a push, and its status follows the new generation.
  const current = f.kube.get('networking.istio.io', 'virtualservices', 'default', 'reviews');
  await kubeCall(f.kube, 'PUT', `${VS_PATH}/reviews`, { ...vs('reviews', 'mike'), metadata: { ...vs('reviews', 'mike').metadata, resourceVersion: current?.metadata.resourceVersion } }, TOKEN);
  const pushed = await ads.next(30_000);
  t.is(pushed.type_url, TYPE_URL.route);
  t.regex(JSON.stringify(pushed.resources), /mike/);
  t.notRegex(JSON.stringify(pushed.resources), /jason/);
  await eventually('status of generation 2', () => statusOf(f.kube, 'reviews')?.observedGeneration === 2, f.cp);

  // Citadel on 15012 with --auth kube: a projected service-account token for meshfed-ca gets a
  // certificate for its own identity; one for another audience is refused. The token is read at
  // each request (a sidecar's rotates in its file).
  f.kube.registerToken('productpage-token', { username: 'system:serviceaccount:default:productpage', audiences: ['meshfed-ca'] });
  f.kube.registerToken('api-token', { username: 'system:serviceaccount:default:productpage', audiences: ['https://kubernetes.default.svc.cluster.local'] });
  let token = 'api-token';
  const ask = () =>
    requestCertificate({
      target: `${f.address}:15012`,
      rootsPem: f.rootPem,
      serverName: CONTROL_PLANE_SERVER_NAME,
      token: () => token,
      identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'productpage' },
      ttlSeconds: 600,
    });
  const refused = await t.throwsAsync(ask());
  t.true(refused instanceof CertificateRequestError);
  t.is((refused as CertificateRequestError).grpcCode, grpc.status.UNAUTHENTICATED);
  token = 'productpage-token';
  t.is((await ask()).spiffeId, 'spiffe://cluster.local/ns/default/sa/productpage');
  t.true(f.kube.requests().some((r) => r.path === '/apis/authentication.k8s.io/v1/tokenreviews' && r.token === TOKEN));

  // Stopping releases the Lease, so another replica takes over at once.
  await f.cp.stop();
  t.is(lease()?.holderIdentity, '', f.cp.output());
});

test.serial('controlplane in Kubernetes publishes the root ConfigMap in every namespace and the webhooks caBundle, and repairs both', async (t) => {
  const rendered = installManifests(
    parseInstallOptions({
      cluster: 'east', network: 'net-east', namespace: 'meshfed-system', image: 'meshfed:test', trustDomain: 'cluster.local',
      gatewayAddress: '127.142.2.3', gatewayServiceType: 'LoadBalancer', gatewayNodePort: '31443',
    }),
  );
  const webhookConfigs = rendered.filter((m) => m.kind === 'ValidatingWebhookConfiguration' || m.kind === 'MutatingWebhookConfiguration');
  t.is(webhookConfigs.length, 2);
  const f = await start(t, '127.142.2', async (kube) => {
    for (const m of webhookConfigs) {
      await kubeCall(kube, 'POST', `/apis/admissionregistration.k8s.io/v1/${m.kind === 'ValidatingWebhookConfiguration' ? 'validating' : 'mutating'}webhookconfigurations`, m, TOKEN);
    }
  });
  const cm = (ns: string) => f.kube.get('', 'configmaps', ns, 'meshfed-ca-root-cert') as { data?: Record<string, string>; metadata: { resourceVersion?: string } } | undefined;
  const rooted = (ns: string) => cm(ns)?.data?.['root-cert.pem'] === f.rootPem;

  for (const ns of ['default', 'shop', 'meshfed-system']) await eventually(`the root ConfigMap in ${ns}`, () => rooted(ns), f.cp);
  t.is(cm('kube-system'), undefined, 'never in kube-system, as istiod');

  // A new namespace gets it; an edit is repaired; a delete is re-created.
  await kubeCall(f.kube, 'POST', '/api/v1/namespaces', namespace('late'), TOKEN);
  await eventually('the root ConfigMap in a new namespace', () => rooted('late'), f.cp);
  await kubeCall(f.kube, 'PATCH', '/api/v1/namespaces/shop/configmaps/meshfed-ca-root-cert', { data: { 'root-cert.pem': 'tampered', extra: 'kept' } }, TOKEN);
  await eventually('the edited ConfigMap repaired', () => rooted('shop'), f.cp);
  t.is(cm('shop')?.data?.['extra'], 'kept', 'other keys are left alone');
  await kubeCall(f.kube, 'DELETE', '/api/v1/namespaces/default/configmaps/meshfed-ca-root-cert', undefined, TOKEN);
  await eventually('the deleted ConfigMap re-created', () => rooted('default'), f.cp);

  // Every webhook of both configurations carries the root, base64-encoded.
  const bundle = Buffer.from(f.rootPem).toString('base64');
  const config = (kind: string, name: string) =>
    f.kube.get('admissionregistration.k8s.io', kind, '', name) as { webhooks?: { name: string; clientConfig: { caBundle?: string } }[] } | undefined;
  const bundles = (kind: string, name: string) => (config(kind, name)?.webhooks ?? []).map((w) => w.clientConfig.caBundle);
  const allSet = (kind: string, name: string) => bundles(kind, name).length > 0 && bundles(kind, name).every((b) => b === bundle);
  await eventually('validating caBundle', () => allSet('validatingwebhookconfigurations', 'meshfed-validator-meshfed-system'), f.cp);
  await eventually('mutating caBundle', () => allSet('mutatingwebhookconfigurations', 'meshfed-sidecar-injector-meshfed-system'), f.cp);
  t.is(bundles('mutatingwebhookconfigurations', 'meshfed-sidecar-injector-meshfed-system').length, 3);
  const patches = f.kube.requests().filter((r) => r.method === 'PATCH' && r.path.includes('webhookconfigurations'));
  t.is(patches.length, 2, 'one patch per configuration sets all its webhooks');

  // kubectl edit of one caBundle: repaired.
  const injector = config('mutatingwebhookconfigurations', 'meshfed-sidecar-injector-meshfed-system');
  const webhooks = (injector?.webhooks ?? []).map((w, i) => (i === 1 ? { ...w, clientConfig: { ...w.clientConfig, caBundle: 'Zm9v' } } : w));
  await kubeCall(f.kube, 'PATCH', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/meshfed-sidecar-injector-meshfed-system', { webhooks }, TOKEN);
  await eventually('the edited caBundle repaired', () => allSet('mutatingwebhookconfigurations', 'meshfed-sidecar-injector-meshfed-system'), f.cp);

  const lease = f.kube.get('coordination.k8s.io', 'leases', 'meshfed-system', 'meshfed-root-cert')?.['spec'] as { holderIdentity?: string } | undefined;
  t.truthy(lease?.holderIdentity, 'written under the Lease meshfed-root-cert');
});

test.serial('controlplane in Kubernetes is not ready while its API server cannot be listed', async (t) => {
  // 127.142.6.1:9 — nothing listens there: every list fails (127.142.6.0/24 is this test's).
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-cp-kube-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    'apiVersion: v1\nkind: Config\nclusters: [{ name: t, cluster: { server: "http://127.142.6.1:9" } }]\nusers: [{ name: u, user: { token: x } }]\ncontexts: [{ name: t, context: { cluster: t, user: u } }]\ncurrent-context: t\n',
  );
  const cp = startMeshfed(t, [
    'controlplane', '--cluster', 'east', '--address', '127.142.6.2', '--ca-dir', path.join(dir, 'ca', 'east'),
    '--registries', 'kube,federation', '--config-stores', 'crd', '--kubeconfig', kubeconfig, '--auth', 'kube', '--gateway-address', '127.142.6.3',
  ]);
  let report: { ready: boolean; checks: Record<string, true | string> } | undefined;
  await eventually(
    'xds bound',
    () => {
      void fetch('http://127.142.6.2:15014/ready')
        .then(async (r) => {
          report = (await r.json()) as typeof report;
        })
        .catch(() => undefined);
      return report?.checks['xds'] === true;
    },
    cp,
  );
  t.false(report?.ready);
  t.is(report?.checks['kube'], 'the first list from the Kubernetes API server is not in yet');
});
