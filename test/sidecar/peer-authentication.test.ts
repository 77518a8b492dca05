import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import test from 'ava';
import { NO_CHAIN_STAT } from '../../src/sidecar/inbound-listener.ts';
import { validateClusterLoadAssignment, validateListener } from '../../src/xds/validate/index.ts';
import { endpointsOf, listenersOf } from '../pilot/support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { decoded } from '../xds/support/decode.ts';
import { closeHttp, httpRequest, inboundCluster, listenOn, proxyConfig } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * PeerAuthentication through a real sidecar pair (Citadel certificates, real sockets): the inbound
 * sidecar runs the virtualInbound listener Pilot generates for each policy (encoded, decoded and
 * validated as the sidecar receives it). A mesh caller goes through the outbound sidecar (mTLS h2);
 * a non-mesh caller is curl speaking plaintext HTTP/2 (prior knowledge) straight to 15006.
 */
const CLIENT = '127.161.0.1';
const SERVER = '127.161.0.2';
const execFileP = promisify(execFile);
const NO_CHAIN_METRIC = `envoy_${NO_CHAIN_STAT.replace(/[^A-Za-z0-9_]/g, '_')}`;

let pair: SidecarPair;
let appPort = 0;
const app = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'x-saw-xfcc': String(req.headers['x-forwarded-client-cert'] ?? '') });
  res.end('db');
});

test.before(async () => {
  appPort = await listenOn(app, SERVER);
  pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'db', appPort });
});

test.after.always(async () => {
  await pair?.close();
  await closeHttp(app);
});

const pa = (ns: string, name: string, spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n---\n`;

/**
 * Generates, under `yaml`, the server's virtualInbound and the caller's EDS for the service (auto-mTLS:
 * `tlsMode` per endpoint), validates both as received over xDS, and applies them.
 */
async function applyPolicy(yaml: string): Promise<void> {
  const b = new SnapshotBuilder()
    .workload('db-v1', 'db', appPort, { address: SERVER, labels: { app: 'db' } })
    .workload('caller-v1', 'caller', 8080, { address: CLIENT, labels: { app: 'caller' } });
  if (yaml !== '') b.yaml(yaml);
  const snap = b.build();
  const listener = listenersOf(proxyNode('sidecar', { workload: 'db-v1', ip: SERVER }), snap).get('virtualInbound');
  const v = validateListener(decoded(listener ?? {}));
  if (!v.ok) throw new Error(v.errors.join('\n'));
  const r = await pair.server.applyConfig(proxyConfig({ listeners: [v.value], clusters: [inboundCluster(SERVER, appPort)] }));
  if (!r.ok) throw r.errors[0];
  const cla = endpointsOf(proxyNode('sidecar', { workload: 'caller-v1', ip: CLIENT }), snap).get(pair.clusterName);
  const e = validateClusterLoadAssignment(decoded(cla ?? {}));
  if (!e.ok) throw new Error(e.errors.join('\n'));
  const current = pair.client.config();
  const c = await pair.client.applyConfig({ ...current, endpoints: new Map([...current.endpoints, [pair.clusterName, e.value]]) });
  if (!c.ok) throw c.errors[0];
}

/** curl as a caller outside the mesh: plaintext HTTP/2 with prior knowledge to the inbound port. */
async function curlPlaintext(): Promise<{ code: number; status: string }> {
  try {
    const { stdout } = await execFileP('curl', ['-sS', '--max-time', '5', '--http2-prior-knowledge', '-o', '/dev/null', '-w', '%{http_code}', `http://${SERVER}:15006/`]);
    return { code: 0, status: stdout };
  } catch (e: unknown) {
    const err = e as { code?: number; stdout?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, status: err.stdout ?? '' };
  }
}

async function meshCall(): Promise<number> {
  const reply = await httpRequest(pair.outbound, { path: '/', headers: { host: 'db' } });
  return reply.status;
}

async function serverMetrics(): Promise<string> {
  return (await fetch(`${pair.server.urls.metrics}/stats/prometheus`)).text();
}

function counterValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const MESH_STRICT = pa('istio-system', 'default', '{mtls: {mode: STRICT}}');

/** `mesh`: the connection_security_policy a mesh caller is served with (auto-mTLS picks plaintext for a DISABLE endpoint). */
const ROWS: { name: string; yaml: string; mesh: 'mutual_tls' | 'none'; plaintext: 'served' | 'refused' }[] = [
  { name: 'STRICT (mesh scope): mTLS served, a plaintext caller refused', yaml: MESH_STRICT, mesh: 'mutual_tls', plaintext: 'refused' },
  { name: 'PERMISSIVE (no policy): both served', yaml: '', mesh: 'mutual_tls', plaintext: 'served' },
  { name: 'DISABLE (namespace scope): plaintext served; the mesh caller sends plaintext too', yaml: pa('default', 'default', '{mtls: {mode: DISABLE}}'), mesh: 'none', plaintext: 'served' },
  {
    name: 'portLevelMtls: the app port DISABLE under a STRICT mesh serves plaintext',
    yaml: MESH_STRICT + pa('default', 'db', `{selector: {matchLabels: {app: db}}, portLevelMtls: {"0": {mode: DISABLE}}}`),
    mesh: 'none',
    plaintext: 'served',
  },
  {
    name: 'portLevelMtls: the app port STRICT under a PERMISSIVE workload refuses plaintext',
    yaml: pa('default', 'db', `{selector: {matchLabels: {app: db}}, mtls: {mode: PERMISSIVE}, portLevelMtls: {"0": {mode: STRICT}}}`),
    mesh: 'mutual_tls',
    plaintext: 'refused',
  },
];

for (const row of ROWS) {
  test.serial(row.name, async (t) => {
    await applyPolicy(row.yaml.replaceAll('"0"', `"${appPort}"`));
    const before = counterValue(await serverMetrics(), NO_CHAIN_METRIC);

    t.is(await meshCall(), 200);

    const plain = await curlPlaintext();
    if (row.plaintext === 'served') {
      t.deepEqual(plain, { code: 0, status: '200' });
    } else {
      t.not(plain.code, 0, 'curl sees the connection closed');
      t.not(plain.status, '200');
    }

    const metrics = await serverMetrics();
    t.true(counterValue(metrics, NO_CHAIN_METRIC) >= before + (row.plaintext === 'refused' ? 1 : 0), `${NO_CHAIN_METRIC} counts each refused connection`);
    t.truthy(metricLine(metrics, 'istio_requests_total', { reporter: 'destination', source_workload: 'caller-v1', connection_security_policy: row.mesh, response_code: '200' }), metrics);
    if (row.plaintext === 'served') t.truthy(metricLine(metrics, 'istio_requests_total', { reporter: 'destination', connection_security_policy: 'none', source_principal: 'unknown', response_code: '200' }));
  });
}
