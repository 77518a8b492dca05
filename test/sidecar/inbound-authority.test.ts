import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { validateListener } from '../../src/xds/validate/index.ts';
import { sniFor } from '../../src/xds/naming.ts';
import { listenersOf } from '../pilot/support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { decoded } from '../xds/support/decode.ts';
import { closeHttp, httpRequest, inboundCluster, listenOn, proxyConfig } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Case 17: SNI a.svc with `:authority` b.svc on one connection → 421, never a's app. The inbound
 * sidecar of service `a` runs the virtualInbound Pilot generates (encoded, decoded and validated
 * as received); curl with a Citadel certificate of another mesh workload is the caller, speaking
 * mTLS HTTP/2 with a's SNI (as a sidecar would) and any `:authority` it likes, or plaintext h2c
 * (PERMISSIVE's plaintext chain). The caller's own sidecar checks the legitimate path.
 */
const CLIENT = '127.171.3.1';
const SERVER = '127.171.3.2';
const execFileP = promisify(execFile);

let pair: SidecarPair;
let appPort = 0;
let dir = '';
const seen: string[] = [];
const app = http.createServer((req, res) => {
  seen.push(String(req.headers.host ?? ''));
  res.end('a');
});

test.before(async () => {
  appPort = await listenOn(app, SERVER);
  pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'a', appPort });
  const snap = new SnapshotBuilder()
    .workload('a-v1', 'a', appPort, { address: SERVER, labels: { app: 'a' } })
    .workload('b-v1', 'b', appPort, { address: '127.171.3.9', labels: { app: 'b' } })
    .build();
  const listener = listenersOf(proxyNode('sidecar', { workload: 'a-v1', ip: SERVER }), snap).get('virtualInbound');
  const v = validateListener(decoded(listener ?? {}));
  if (!v.ok) throw new Error(v.errors.join('\n'));
  const r = await pair.server.applyConfig(proxyConfig({ listeners: [v.value], clusters: [inboundCluster(SERVER, appPort)] }));
  if (!r.ok) throw r.errors[0];
  dir = await mkdtemp(path.join(tmpdir(), 'meshfed-authority-'));
  // Another workload of the mesh (a valid Citadel certificate), not a's.
  const caller = pair.ca.issue('default', 'b');
  await writeFile(path.join(dir, 'key.pem'), caller.privateKeyPem);
  await writeFile(path.join(dir, 'cert.pem'), caller.certChainPem);
});

test.after.always(async () => {
  await pair?.close();
  await closeHttp(app);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** curl over mTLS HTTP/2 with a's mesh SNI, or plaintext h2c, to a's inbound port, with `authority`. */
async function curl(authority: string, transport: 'mtls' | 'plaintext'): Promise<number> {
  const sni = sniFor(appPort, '', 'a.default.svc.cluster.local');
  const args =
    transport === 'mtls'
      ? ['--http2', '-k', '--cert', path.join(dir, 'cert.pem'), '--key', path.join(dir, 'key.pem'), '--resolve', `${sni}:15006:${SERVER}`, `https://${sni}:15006/`]
      : ['--http2-prior-knowledge', `http://${SERVER}:15006/`];
  const { stdout } = await execFileP('curl', ['-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '-H', `host: ${authority}`, ...args]);
  return Number(stdout);
}

const ROWS: { name: string; authority: (port: number) => string; transport: 'mtls' | 'plaintext'; status: number }[] = [
  { name: "a's FQDN", authority: () => 'a.default.svc.cluster.local', transport: 'mtls', status: 200 },
  { name: "a's FQDN with its port", authority: (p) => `a.default.svc.cluster.local:${p}`, transport: 'mtls', status: 200 },
  { name: "a's short name (its own namespace)", authority: () => 'a', transport: 'mtls', status: 200 },
  { name: "a's <name>.<namespace> with port", authority: (p) => `a.default:${p}`, transport: 'mtls', status: 200 },
  { name: "a's <name>.<namespace>.svc", authority: () => 'a.default.svc', transport: 'mtls', status: 200 },
  { name: "a's FQDN in upper case", authority: () => 'A.Default.SVC.cluster.local', transport: 'mtls', status: 200 },
  { name: 'the pod IP and port', authority: (p) => `${SERVER}:${p}`, transport: 'mtls', status: 200 },
  { name: 'localhost', authority: () => 'localhost', transport: 'mtls', status: 200 },
  { name: 'the pod IP and the inbound port (a caller that dials 15006 itself)', authority: () => `${SERVER}:15006`, transport: 'mtls', status: 200 },
  { name: "b's FQDN on a's connection → 421", authority: () => 'b.default.svc.cluster.local', transport: 'mtls', status: 421 },
  { name: "b's short name with port → 421", authority: (p) => `b:${p}`, transport: 'mtls', status: 421 },
  { name: 'a host outside the mesh → 421', authority: () => 'evil.example.com', transport: 'mtls', status: 421 },
  { name: "a prefix of a's name → 421", authority: () => 'a.default.svc.cluster.local.evil', transport: 'mtls', status: 421 },
  { name: "plaintext (PERMISSIVE): a's name", authority: () => 'a.default.svc.cluster.local', transport: 'plaintext', status: 200 },
  { name: "plaintext (PERMISSIVE): b's name → 421", authority: () => 'b.default.svc.cluster.local', transport: 'plaintext', status: 421 },
];

for (const row of ROWS) {
  test.serial(`${row.transport}: ${row.name}`, async (t) => {
    const before = seen.length;
    const status = await curl(row.authority(appPort), row.transport);
    t.is(status, row.status);
    t.is(seen.length - before, row.status === 200 ? 1 : 0, row.status === 421 ? 'a misdirected request never reaches the app' : 'served by the app');
  });
}

test.serial("a mesh caller through its own sidecar reaches a by a's name; the 421s were counted", async (t) => {
  const before = seen.length;
  const r = await httpRequest(pair.outbound, { headers: { host: 'a' } });
  t.is(r.status, 200);
  t.is(seen.length - before, 1);
  const metrics = await (await fetch(`${pair.server.urls.metrics}/stats/prometheus`)).text();
  const line = metricLine(metrics, 'istio_requests_total', { reporter: 'destination', response_code: '421' });
  t.truthy(line, metrics);
  t.true(Number(line?.split(' ').at(-1)) >= 1);
  t.regex(metrics, new RegExp(`^envoy_http_inbound_0_0_0_0_${appPort}_rq_direct_response \\d+`, 'm'));
});
