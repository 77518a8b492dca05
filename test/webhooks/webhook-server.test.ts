import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import jsonPatch from 'fast-json-patch';
import { initCa } from '../../src/citadel/index.ts';
import { type KubeObject, kubeSchemaProblems } from '../support/kube-models.ts';
import { type MeshfedProcess, startMeshfed } from '../support/cli.ts';

/**
 * The admission webhooks as the API server meets them: the compiled `meshfed controlplane` on this
 * file's loopback block 127.138.0.0/16 (127.138.1.1, its gateway 127.138.1.2), and curl POSTing
 * AdmissionReviews to https://meshfed-controlplane.meshfed-system.svc:15017 (`--resolve`), checking
 * the certificate against the cluster's root (`--cacert`, never `-k`), as the webhook
 * configuration's caBundle makes the API server do.
 */

const run = promisify(execFile);
const ADDRESS = '127.138.1.1';
const HOST = 'meshfed-controlplane.meshfed-system.svc';

interface Shared {
  root: string;
  dir: string;
  cp: MeshfedProcess;
}

async function startControlPlane(t: ExecutionContext): Promise<Shared> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-webhooks-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  await writeFile(path.join(dir, 'workloads.json'), JSON.stringify({ cluster: 'east', gatewayAddress: '127.138.1.2', workloads: [] }));
  await writeFile(path.join(dir, 'tokens.json'), JSON.stringify({ tokens: {} }));
  await mkdir(path.join(dir, 'config'));
  const cp = startMeshfed(t, [
    'controlplane', '--cluster', 'east', '--address', ADDRESS, '--ca-dir', path.join(dir, 'ca', 'east'),
    '--registry-file', path.join(dir, 'workloads.json'), '--tokens-file', path.join(dir, 'tokens.json'),
    '--config-dir', path.join(dir, 'config'), '--gateway-address', '127.138.1.2', '--sidecar-image', 'meshfed:test',
  ]);
  // A deadline for a loaded 2-core machine, not a performance bound.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(`http://${ADDRESS}:15014/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    if (cp.exited() || Date.now() > deadline) throw new Error(`controlplane not ready:\n${cp.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return { root: path.join(dir, 'ca', 'east', 'root-cert.pem'), dir, cp };
}

interface Answer {
  code: number;
  body: string;
}

/** curl POSTs `body` to `webhookPath`, verifying TLS against `root` for `host`. */
async function curl(s: Shared, webhookPath: string, body: string, host = HOST): Promise<Answer> {
  const file = path.join(s.dir, `body-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, body);
  const { stdout } = await run('curl', [
    '-sS', '--cacert', s.root, '--resolve', `${host}:15017:${ADDRESS}`, '-H', 'content-type: application/json',
    '--data-binary', `@${file}`, '-w', '\n%{http_code}', `https://${host}:15017${webhookPath}`,
  ]);
  const cut = stdout.lastIndexOf('\n');
  return { code: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

function review(uid: string, kind: { group: string; version: string; kind: string }, object: unknown, namespace = 'bookinfo', operation = 'CREATE'): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind, operation, namespace, object } });
}

interface ReviewResponse {
  apiVersion: string;
  kind: string;
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; patchType?: string; patch?: string; warnings?: string[] };
}

const VS = { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' };
const POD = { group: '', version: 'v1', kind: 'Pod' };
const vs = (weight: number) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'bookinfo', uid: 'abc', creationTimestamp: '2026-12-03T12:00:00Z' },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' }, weight }] }] },
});
const pod = (annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'reviews-v1-', labels: { app: 'reviews', version: 'v1' }, annotations },
  spec: { serviceAccountName: 'bookinfo-reviews', containers: [{ name: 'reviews', image: 'reviews:1', ports: [{ containerPort: 9080 }] }] },
});

test('curl against meshfed controlplane: validation, injection and malformed reviews over TLS checked against the root', async (t) => {
  const s = await startControlPlane(t);

  // Both Service names are in the certificate; another name is refused by curl.
  for (const host of [HOST, `${HOST}.cluster.local`]) {
    const a = await curl(s, '/validate', review('uid-good', VS, vs(100)), host);
    t.is(a.code, 200, host);
    t.deepEqual(JSON.parse(a.body), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'uid-good', allowed: true } });
  }
  const wrongName = await curl(s, '/validate', review('x', VS, vs(100)), 'meshfed-controlplane.other.svc').then(
    () => 'accepted',
    (e: unknown) => String((e as { stderr?: string }).stderr ?? e),
  );
  t.regex(wrongName, /SSL|certificate|subject/i);

  // A bad field: denied with its path, the uid echoed.
  const bad = await curl(s, '/validate', review('uid-bad', VS, vs(101)));
  t.is(bad.code, 200);
  const badBody = JSON.parse(bad.body) as ReviewResponse;
  t.is(badBody.response.uid, 'uid-bad');
  t.false(badBody.response.allowed);
  t.is(badBody.response.status?.code, 400);
  t.regex(badBody.response.status?.message ?? '', /^VirtualService bookinfo\/reviews: spec\.http\[0\]\.route\[0\]\.weight: /);

  // A DELETE is allowed.
  const del = JSON.parse((await curl(s, '/validate', review('uid-del', VS, null, 'bookinfo', 'DELETE'))).body) as ReviewResponse;
  t.deepEqual(del.response, { uid: 'uid-del', allowed: true });

  // Malformed bodies: 400 with a message naming the problem.
  const notJson = await curl(s, '/validate', '{not json');
  t.is(notJson.code, 400);
  t.regex(notJson.body, /^malformed AdmissionReview:\nthe body is not JSON: /);
  const noUid = await curl(s, '/inject', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: POD, operation: 'CREATE' } }));
  t.is(noUid.code, 400);
  t.regex(noUid.body, /^request\.uid: /m);
  const v1beta1 = await curl(s, '/validate', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }));
  t.is(v1beta1.code, 400);
  t.regex(v1beta1.body, /^apiVersion: must be admission\.k8s\.io\/v1$/m);

  // A pod injected: decode the patch, apply it with fast-json-patch, validate the Pod.
  const inj = JSON.parse((await curl(s, '/inject', review('uid-pod', POD, pod()))).body) as ReviewResponse;
  t.is(inj.response.uid, 'uid-pod');
  t.true(inj.response.allowed);
  t.is(inj.response.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(inj.response.patch ?? '', 'base64').toString('utf8')) as jsonPatch.Operation[];
  const patched = jsonPatch.applyPatch(pod(), ops, true, false).newDocument;
  t.deepEqual(await kubeSchemaProblems(patched as unknown as KubeObject), []);
  t.deepEqual(patched.spec.containers.map((c) => c.name), ['reviews', 'istio-proxy']);
  const sidecar = patched.spec.containers[1] as unknown as { image: string; args: string[] };
  t.is(sidecar.image, 'meshfed:test');
  t.is(sidecar.args[sidecar.args.indexOf('--control-plane') + 1], HOST);
  t.is(sidecar.args[sidecar.args.indexOf('--cluster') + 1], 'east');

  // A second pass over the injected pod does nothing.
  const again = JSON.parse((await curl(s, '/inject', review('uid-again', POD, patched))).body) as ReviewResponse;
  t.deepEqual(again.response, { uid: 'uid-again', allowed: true, warnings: ['meshfed sidecar not injected: already injected'] });

  // An opted-out pod is not injected.
  const out = JSON.parse((await curl(s, '/inject', review('uid-out', POD, pod({ 'sidecar.istio.io/inject': 'false' })))).body) as ReviewResponse;
  t.deepEqual(out.response, { uid: 'uid-out', allowed: true, warnings: ['meshfed sidecar not injected: sidecar.istio.io/inject is "false"'] });

  // Pods in the control plane's namespace are not injected.
  const own = JSON.parse((await curl(s, '/inject', review('uid-own', POD, pod(), 'meshfed-system'))).body) as ReviewResponse;
  t.is(own.response.patch, undefined);
  t.true(own.response.allowed);

  // A malformed capture annotation: denied with its path.
  const badAnn = JSON.parse((await curl(s, '/inject', review('uid-ann', POD, pod({ 'traffic.sidecar.istio.io/excludeOutboundPorts': 'db' })))).body) as ReviewResponse;
  t.false(badAnn.response.allowed);
  t.regex(badAnn.response.status?.message ?? '', /^metadata\.annotations\["traffic\.sidecar\.istio\.io\/excludeOutboundPorts"\]: "db" is not a port/);

  // Other paths and methods.
  t.like(await curl(s, '/mutate', review('x', POD, pod())), { code: 404, body: 'no webhook at /mutate (serving /validate and /inject)\n' });
  const { stdout: get } = await run('curl', ['-sS', '--cacert', s.root, '--resolve', `${HOST}:15017:${ADDRESS}`, '-w', '\n%{http_code}', `https://${HOST}:15017/inject`]);
  t.is(get, '/inject takes POST with an admission.k8s.io/v1 AdmissionReview\n\n405');

  t.false(s.cp.exited(), 'still running');
  await s.cp.stop();
  t.true(s.cp.exited());
});
