import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { MESHFED_BIN } from '../support/build.ts';
import { applyYaml, eventually, type FixtureMeshContext, fetchText, samples, useFixtureMesh } from './support/mesh.ts';

/**
 * VirtualService `tls` routes (SNI routing of the app's own TLS) across two clusters through
 * `meshfed up` (Consul). Two TLS echo apps serve port 8443 with their own self-signed
 * certificates: tls-a in east (CN tls-a-east) and tls-b in west (CN tls-b-west, exported). A
 * client connects to east's client sidecar `0.0.0.0_8443` (one listener, tls_inspector, one chain
 * per SNI); the sidecar reads only the ClientHello and carries the bytes inside mesh mTLS, through
 * west's east-west gateway for tls-b, so the certificate the client sees is the app's own.
 * Addresses: 127.136.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const A = 'tls-a.default.svc.cluster.local';
const B = 'tls-b.default.svc.cluster.local';
const PORT = 8443;

const dir = mkdtempSync(path.join(tmpdir(), 'meshfed-e2e-136-fixture-'));
const certs: Record<string, { cert: string; key: string }> = {};
for (const cn of ['tls-a-east', 'tls-b-west']) {
  const cert = path.join(dir, `${cn}.pem`);
  const key = path.join(dir, `${cn}-key.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${cn}`], { stdio: 'ignore' });
  certs[cn] = { cert, key };
}
const caFile = path.join(dir, 'app-roots.pem');
writeFileSync(caFile, Object.values(certs).map((c) => readFileSync(c.cert, 'utf8')).join(''));

/** `app:` running the built-in echo in its TLS mode with this certificate, on the workload's address. */
function tlsEchoApp(cn: string): string {
  const c = certs[cn];
  if (!c) throw new Error(cn);
  const script = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(MESHFED_BIN)} echo --address "$MESHFED_ADDRESS" --port "$PORT" --protocol tls --cert-file ${JSON.stringify(c.cert)} --key-file ${JSON.stringify(c.key)}`;
  return JSON.stringify({ command: ['sh', '-c', script] });
}

mkdirSync(path.join(dir, 'east'));
mkdirSync(path.join(dir, 'west'));
writeFileSync(
  path.join(dir, 'west', 'tls-b.yaml'),
  'apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: { name: tls-b, namespace: default }\n',
);
writeFileSync(path.join(dir, 'east', 'none.yaml'), '# VirtualServices are applied by the test\n');
const TOPOLOGY = path.join(dir, 'mesh.yaml');
writeFileSync(
  TOPOLOGY,
  `apiVersion: meshfed.dev/v1alpha1
kind: LocalMesh
metadata: { name: tls-routes }
spec:
  trustDomain: cluster.local
  clusters:
  - name: east
    workloads:
    - { name: client, namespace: default, serviceAccount: client, service: { name: client, port: 8080 }, labels: { app: client }, app: echo }
    - { name: tls-a-v1, namespace: default, serviceAccount: tls-a, service: { name: tls-a, port: ${PORT}, portName: tls-a },
        labels: { app: tls-a, version: v1 }, app: ${tlsEchoApp('tls-a-east')} }
    config: [east/]
  - name: west
    workloads:
    - { name: tls-b-v1, namespace: default, serviceAccount: tls-b, service: { name: tls-b, port: ${PORT}, portName: https-b },
        labels: { app: tls-b, version: v1 }, app: ${tlsEchoApp('tls-b-west')} }
    config: [west/]
`,
);

useFixtureMesh(test, { block: 136, network: 'loopback', topology: TOPOLOGY });
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function workload(state: MeshState, cluster: string, name: string) {
  const w = state.clusters.find((c) => c.name === cluster)?.workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${cluster}/${name} in state.json`);
  return w;
}

/** A TLS echo through the client's sidecar with this SNI: the served certificate's CN and the echoed text. */
function tlsEcho(state: MeshState, servername: string, payload: string): Promise<{ cn: string; echoed: string }> {
  const host = workload(state, 'east', 'client').address;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let cn = '';
    const c = tls.connect({ host, port: PORT, servername, ca: readFileSync(caFile), checkServerIdentity: () => undefined, allowHalfOpen: true } as tls.ConnectionOptions);
    c.once('secureConnect', () => {
      cn = String(c.getPeerCertificate().subject?.CN ?? '');
      c.end(payload);
    });
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve({ cn, echoed: Buffer.concat(chunks).toString() }));
  });
}

/** `openssl s_client -servername` through the client's sidecar; resolves with its output. */
function sClient(state: MeshState, servername: string): Promise<string> {
  const host = workload(state, 'east', 'client').address;
  return new Promise((resolve) => {
    const child = execFile(
      'openssl',
      ['s_client', '-connect', `${host}:${PORT}`, '-servername', servername, '-CAfile', caFile, '-verify_return_error'],
      { timeout: 20_000 },
      (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`),
    );
    child.stdin?.end();
  });
}

function subjectCn(out: string): string | undefined {
  return /subject=\s*CN\s*=\s*([\w.-]+)/.exec(out)?.[1];
}

async function tcpOpened(state: MeshState, cluster: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await fetchText(workload(state, cluster, name).sidecar?.metrics ?? '');
  return samples(text, 'istio_tcp_connections_opened_total', labels).reduce((a, b) => a + b, 0);
}

test.serial('two SNIs on one port reach two services in two clusters; openssl sees each app’s own certificate', async (t) => {
  const { state } = t.context;
  await eventually('tls-b reachable across the gateway by SNI', async () => {
    const r = await tlsEcho(state, B, 'probe').catch(() => undefined);
    return r?.cn === 'tls-b-west' && r.echoed === 'probe' ? r : undefined;
  }, 90_000);
  const outA = await sClient(state, A);
  const outB = await sClient(state, B);
  t.log(`s_client ${A}: subject ${subjectCn(outA)}; ${B}: subject ${subjectCn(outB)}`);
  t.is(subjectCn(outA), 'tls-a-east', outA);
  t.is(subjectCn(outB), 'tls-b-west', outB);
  t.regex(outA, /Verify return code: 0 \(ok\)/);
  t.regex(outB, /Verify return code: 0 \(ok\)/);
  const a = await tlsEcho(state, A, 'to a');
  const b = await tlsEcho(state, B, 'to b');
  t.deepEqual(a, { cn: 'tls-a-east', echoed: 'to a' });
  t.deepEqual(b, { cn: 'tls-b-west', echoed: 'to b' });
});

test.serial('istio_tcp_* at both sidecars carry the SNI-chosen destination_service, with mesh mTLS under the app’s TLS', async (t) => {
  const { state } = t.context;
  for (const [cluster, name, host] of [['east', 'tls-a-v1', A], ['west', 'tls-b-v1', B]] as const) {
    const before = await tcpOpened(state, cluster, name, { reporter: 'destination', destination_service: host });
    const srcBefore = await tcpOpened(state, 'east', 'client', { reporter: 'source', destination_service: host });
    const r = await tlsEcho(state, host, 'metrics');
    t.is(r.echoed, 'metrics');
    const after = await eventually(`${name} counted`, async () => {
      const n = await tcpOpened(state, cluster, name, { reporter: 'destination', destination_service: host, source_workload: 'client', connection_security_policy: 'mutual_tls' });
      return n > before ? n : undefined;
    });
    t.true(after > before, `${name} destination counter moved`);
    t.true((await tcpOpened(state, 'east', 'client', { reporter: 'source', destination_service: host, destination_cluster: cluster })) > srcBefore, `client source counter for ${host}`);
  }
});

test.serial('a weighted tls route for one SNI splits 75/25 across clusters (±12 points of 200); the other SNI is untouched', async (t) => {
  const { state } = t.context;
  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-b, namespace: default}
spec:
  hosts: [tls-b]
  tls:
  - match: [{sniHosts: [${B}]}]
    route:
    - {destination: {host: tls-b}, weight: 75}
    - {destination: {host: tls-a}, weight: 25}`,
  );
  await eventually('weighted tls route pushed', async () => {
    for (let i = 0; i < 20; i++) if ((await tlsEcho(state, B, 'probe')).cn === 'tls-a-east') return true;
    return undefined;
  }, 60_000);
  const n = 200;
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await tlsEcho(state, B, `conn ${i}`);
    t.is(r.echoed, `conn ${i}`);
    counts[r.cn] = (counts[r.cn] ?? 0) + 1;
  }
  const west = counts['tls-b-west'] ?? 0;
  const east = counts['tls-a-east'] ?? 0;
  t.log(`SNI ${B}: tls-b-west ${west}, tls-a-east ${east} of ${n}; expected 150/50 ± 24`);
  t.is(west + east, n);
  t.true(Math.abs(west - 150) <= 24, `west got ${west}`);
  for (let i = 0; i < 20; i++) t.is((await tlsEcho(state, A, 'a')).cn, 'tls-a-east', 'SNI tls-a keeps its own chain');
});
