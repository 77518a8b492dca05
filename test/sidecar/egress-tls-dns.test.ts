import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import type { ClusterConfig, EndpointConfig, OriginationTls } from '../../src/xds/config-types.ts';
import { ROUTE_OUTBOUND } from '../../src/xds/naming.ts';
import { findTool } from '../support/tools.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { closeHttp, endpoint, httpRequest, listenOn, outboundListener, proxyConfig, route } from './support-config.ts';

/**
 * TLS origination and DNS clusters through a real sidecar data plane: the app sends plain HTTP,
 * the sidecar originates TLS to real TLS servers whose certificates come from a test CA made with
 * openssl (external, not Citadel's), and resolves STRICT_DNS / LOGICAL_DNS clusters against a
 * real DNS server (Consul's DNS interface, `consul agent -dev`) whose answers the test changes by
 * registering and deregistering services. This file owns 127.66.1.0/24 (sidecar and servers),
 * 127.66.2.1 (Consul) and 127.66.3.0/24 (DNS-resolved backends).
 */

const CLIENT = '127.66.1.1';
const SIMPLE_SERVER = '127.66.1.10';
const MUTUAL_SERVER = '127.66.1.11';
const TLS_PORT = 8443;
const CONSUL = '127.66.2.1';
const CONSUL_HTTP = 18500;
const CONSUL_DNS = 18600;
const BACKENDS = ['127.66.3.1', '127.66.3.2'];
const BACKEND_PORT = 9090;
const outbound = { host: CLIENT, port: 15001 };
const logger = pino({ level: 'silent' });

const dir = mkdtempSync(join(tmpdir(), 'meshfed-egress-tls-'));
const file = (name: string): string => join(dir, name);
let consul: ChildProcess | undefined;
let plane: DataPlane | undefined;
let ca: TestCa | undefined;
const servers: http.Server[] = [];

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a leaf it signs with the given SAN extension. */
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}
function makeLeaf(caName: string, name: string, san: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

async function consulPut(path: string, body?: unknown): Promise<void> {
  const r = await fetch(`http://${CONSUL}:${CONSUL_HTTP}${path}`, { method: 'PUT', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok) throw new Error(`consul ${path}: ${r.status} ${await r.text()}`);
}
const register = (id: string, name: string, address: string) => consulPut('/v1/agent/service/register', { ID: id, Name: name, Address: address, Port: BACKEND_PORT });
const deregister = (id: string) => consulPut(`/v1/agent/service/deregister/${id}`);

async function startConsul(): Promise<void> {
  const bin = findTool('consul');
  consul = spawn(
    bin,
    ['agent', '-dev', '-bind', CONSUL, '-client', CONSUL, '-http-port', String(CONSUL_HTTP), '-dns-port', String(CONSUL_DNS), '-grpc-port', '-1',
      '-serf-lan-port', '18301', '-serf-wan-port', '18302', '-server-port', '18300', '-data-dir', file('consul')],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://${CONSUL}:${CONSUL_HTTP}/v1/status/leader`);
      if (r.ok && (await r.text()).length > 4) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('consul did not start');
}

function stopConsul(): Promise<void> {
  const p = consul;
  if (!p || p.exitCode !== null || p.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    p.kill('SIGTERM');
  });
}

const origination = (o: Partial<OriginationTls> & { sni?: string }): ClusterConfig['tls'] => {
  const { sni, ...rest } = o;
  return { sni: sni ?? 'api.example', alpn: [], origination: { subjectAltNames: [{ type: 'DNS', value: 'api.example' }], caFile: file('ext-ca.pem'), ...rest } };
};
const staticCluster = (name: string, host: string, tls: ClusterConfig['tls']): ClusterConfig => ({
  name,
  type: 'STATIC',
  edsServiceName: name,
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: 2000,
  staticEndpoints: [endpoint(host, TLS_PORT)],
  ...(tls ? { tls } : {}),
});
const dnsCluster = (name: string, type: 'STRICT_DNS' | 'LOGICAL_DNS', hostname: string, resolverPort = CONSUL_DNS): ClusterConfig => ({
  name,
  type,
  edsServiceName: name,
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: 2000,
  staticEndpoints: [endpoint(hostname, BACKEND_PORT) as EndpointConfig],
  dns: { refreshRateMs: 200, respectTtl: true, resolvers: [{ host: CONSUL, port: resolverPort }] },
});

const CLUSTERS: ClusterConfig[] = [
  staticCluster('simple', SIMPLE_SERVER, origination({})),
  staticCluster('mutual', MUTUAL_SERVER, origination({ certFile: file('client.pem'), keyFile: file('client.key') })),
  staticCluster('mutual-nocert', MUTUAL_SERVER, origination({})),
  staticCluster('wrong-san', SIMPLE_SERVER, origination({ subjectAltNames: [{ type: 'DNS', value: 'other.example' }] })),
  staticCluster('wrong-ca', SIMPLE_SERVER, origination({ caFile: file('other-ca.pem') })),
  staticCluster('missing-ca-file', SIMPLE_SERVER, origination({ caFile: file('nowhere.pem') })),
  staticCluster('skip-verify', SIMPLE_SERVER, { sni: '', alpn: [], origination: { subjectAltNames: [] } }),
  dnsCluster('strict', 'STRICT_DNS', 'web.service.consul'),
  dnsCluster('logical', 'LOGICAL_DNS', 'web.service.consul'),
  dnsCluster('nxdomain', 'STRICT_DNS', 'nothing.service.consul'),
  dnsCluster('no-resolver', 'STRICT_DNS', 'web.service.consul', 18699),
];

test.before(async () => {
  makeCa('ext-ca');
  makeCa('other-ca');
  makeCa('client-ca');
  makeLeaf('ext-ca', 'server', 'DNS:api.example');
  makeLeaf('client-ca', 'client', 'URI:spiffe://partner/app');
  const tlsOpts = { key: readFileSync(file('server.key')), cert: readFileSync(file('server.pem')) };
  const reply = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const socket = req.socket as TLSSocket;
    const peer = socket.getPeerCertificate();
    res.end(JSON.stringify({ tls: socket.encrypted === true, sni: (socket as TLSSocket & { servername?: string | false }).servername || '', client: peer.subject?.CN ?? '' }));
  };
  servers.push(https.createServer(tlsOpts, reply));
  servers.push(https.createServer({ ...tlsOpts, ca: readFileSync(file('client-ca.pem')), requestCert: true, rejectUnauthorized: true }, reply));
  await listenOn(servers[0] as http.Server, SIMPLE_SERVER, TLS_PORT);
  await listenOn(servers[1] as http.Server, MUTUAL_SERVER, TLS_PORT);
  for (const host of BACKENDS) {
    const s = http.createServer((_req, res) => res.end(host));
    servers.push(s);
    await listenOn(s, host, BACKEND_PORT);
  }
  await startConsul();
  await register('web-1', 'web', BACKENDS[0] ?? '');
  ca = await createTestCa('east');
  plane = await createDataPlane({
    workload: { name: 'sleep', namespace: 'default', serviceAccount: 'sleep', cluster: 'east', address: CLIENT, labels: { app: 'sleep' } },
    certificates: new StaticCertificateSource(ca.issue('default', 'sleep')),
    logger,
  });
  const applied = await plane.applyConfig(
    proxyConfig({
      listeners: [outboundListener(CLIENT)],
      routes: [{ name: ROUTE_OUTBOUND, virtualHosts: CLUSTERS.map((c) => ({ name: c.name, domains: [c.name], routes: [route('default', c.name)] })) }],
      clusters: CLUSTERS,
    }),
  );
  if (!applied.ok) throw applied.errors[0];
});

test.after.always(async () => {
  await plane?.close();
  await Promise.all(servers.map((s) => closeHttp(s)));
  await stopConsul();
  await ca?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const get = (host: string) => httpRequest(outbound, { path: '/', headers: { host } });

test('SIMPLE: the app sends plain HTTP, the sidecar originates TLS with the SNI, verified against the external CA', async (t) => {
  const r = await get('simple');
  t.is(r.status, 200, r.body);
  t.deepEqual(JSON.parse(r.body), { tls: true, sni: 'api.example', client: '' });
});

test('MUTUAL: the client certificate is presented to a server that requires it', async (t) => {
  const r = await get('mutual');
  t.is(r.status, 200, r.body);
  t.deepEqual(JSON.parse(r.body), { tls: true, sni: 'api.example', client: 'client' });
});

test('without the client certificate the server that requires one refuses: 503', async (t) => {
  const r = await get('mutual-nocert');
  t.log(`flags ${String(r.headers['x-meshfed-response-flags'])}: ${r.body}`);
  t.is(r.status, 503);
  // TLS 1.3 ends the client's handshake before the server checks the certificate, so the refusal may come after "connected".
  t.true(['UF', 'UR'].includes(String(r.headers['x-meshfed-response-flags'])));
});

for (const [name, why] of [
  ['wrong-san', 'a SAN the certificate does not carry'],
  ['wrong-ca', 'roots that did not sign the server'],
  ['missing-ca-file', 'a caCertificates file that does not exist'],
] as const) {
  test(`${why}: 503 with flag UF, and the proxy keeps serving`, async (t) => {
    const r = await get(name);
    t.log(r.body);
    t.is(r.status, 503);
    t.is(r.headers['x-meshfed-response-flags'], 'UF');
    t.is((await get('simple')).status, 200);
  });
}

test('insecureSkipVerify (no validation context): a server from an unknown CA is accepted, no SNI sent', async (t) => {
  const r = await get('skip-verify');
  t.is(r.status, 200, r.body);
  t.deepEqual(JSON.parse(r.body), { tls: true, sni: '', client: '' });
});

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await f();
  for (let i = 0; i < 150 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await f();
  }
  if (!ok(v)) throw new Error(`${what}: last ${JSON.stringify(v)}`);
  return v;
}
const hostsOf = (name: string): string[] => (plane?.clusterStats().find((c) => c.name === name)?.hosts ?? []).map((h) => h.address).sort();

test.serial('STRICT_DNS follows the DNS answer: one backend, both, then only the second; LOGICAL_DNS keeps the first address', async (t) => {
  const one = `${BACKENDS[0]}:${BACKEND_PORT}`;
  const two = `${BACKENDS[1]}:${BACKEND_PORT}`;
  await until('first answer', async () => hostsOf('strict'), (h) => h.length === 1);
  t.deepEqual(hostsOf('strict'), [one]);
  t.is((await get('strict')).body, BACKENDS[0] ?? '');

  await register('web-2', 'web', BACKENDS[1] ?? '');
  await until('both addresses', async () => hostsOf('strict'), (h) => h.length === 2);
  const seen = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const b = (await get('strict')).body;
    seen.set(b, (seen.get(b) ?? 0) + 1);
  }
  t.log(`round robin over resolved hosts: ${JSON.stringify(Object.fromEntries(seen))}`);
  t.deepEqual(Object.fromEntries(seen), { [BACKENDS[0] ?? '']: 10, [BACKENDS[1] ?? '']: 10 });
  t.is(hostsOf('logical').length, 1);

  await deregister('web-1');
  await until('second only', async () => hostsOf('strict'), (h) => h.length === 1 && h[0] === two);
  t.is((await get('strict')).body, BACKENDS[1] ?? '');
  await until('logical follows the first address', async () => hostsOf('logical'), (h) => h[0] === two);
  t.is((await get('logical')).body, BACKENDS[1] ?? '');

  await deregister('web-2');
  await until('no address', async () => hostsOf('strict'), (h) => h.length === 0);
  const none = await get('strict');
  t.is(none.status, 503);
  t.is(none.headers['x-meshfed-response-flags'], 'UH');
});

test('a name with no records and a resolver that does not answer: 503 UH, never a crash', async (t) => {
  for (const name of ['nxdomain', 'no-resolver']) {
    const r = await get(name);
    t.is(r.status, 503, name);
    t.is(r.headers['x-meshfed-response-flags'], 'UH', name);
  }
  t.is(plane?.readiness().ready, true);
});
