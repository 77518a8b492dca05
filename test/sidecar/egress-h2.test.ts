import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import type { ProxyConfig } from '../../src/xds/config-types.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { pilotConfig } from '../support/pilot-config.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { httpRequest } from './support-config.ts';

/**
 * HTTP/2 and gRPC to servers outside the mesh (ServiceEntry MESH_EXTERNAL ports of protocol HTTP2
 * and GRPC), through one sidecar fed by Pilot's own generators through its validators: h2c (prior
 * knowledge) to plaintext servers, and h2 over TLS the sidecar originates (DestinationRule tls
 * SIMPLE / MUTUAL, ALPN h2) to servers whose certificates come from a test CA made with openssl.
 * The servers are node:http2 and grpc-js; the app's clients are nghttp, curl and a grpc-js client.
 * Block 127.144.1.0/24: .1 the sidecar, .10 h2c server, .11 gRPC server, .12 h2 TLS server,
 * .13 h2 TLS server requiring a client certificate, .14 gRPC TLS server, .15 a TLS server that
 * speaks HTTP/1.1 only.
 */

const CLIENT = '127.144.1.1';
const H2C = '127.144.1.10';
const GRPC_PLAIN = '127.144.1.11';
const H2_TLS = '127.144.1.12';
const H2_MTLS = '127.144.1.13';
const GRPC_TLS = '127.144.1.14';
const H1_TLS = '127.144.1.15';
const logger = pino({ level: process.env['EGRESS_H2_TEST_LOG'] ?? 'silent' });

const dir = mkdtempSync(join(tmpdir(), 'meshfed-egress-h2-'));
const file = (name: string): string => join(dir, name);
let ca: TestCa | undefined;
let plane: DataPlane | undefined;
let config: ProxyConfig | undefined;
const h2Servers: http2.Http2Server[] = [];
const grpcServers: grpc.Server[] = [];
let h1Server: https.Server | undefined;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}
function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
}
function makeLeaf(caName: string, name: string, san: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.pem`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
}

/** What each HTTP/2 server reports about the request it got. */
interface Seen {
  version: string;
  method: string;
  path: string;
  authority: string;
  body: string;
  alpn: string;
  sni: string;
  client: string;
}

function onStream(server: http2.Http2Server | http2.Http2SecureServer): void {
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const socket = req.socket as TLSSocket & { servername?: string | false };
      const seen: Seen = {
        version: req.httpVersion,
        method: req.method,
        path: req.url,
        authority: req.authority,
        body: Buffer.concat(chunks).toString(),
        alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '',
        sni: socket.servername || '',
        client: typeof socket.getPeerCertificate === 'function' ? String(socket.getPeerCertificate().subject?.CN ?? '') : '',
      };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
  });
}

function listen(server: { listen: (port: number, host: string, cb: () => void) => unknown; once: (e: 'error', cb: (e: Error) => void) => unknown }, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};
/** A partner's gRPC service without a .proto (JSON messages): unary Echo answers `{ message, server }`, or the status asked for. */
const PARTNER_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/partner.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
  Count: {
    path: '/partner.Echo/Count',
    requestStream: false,
    responseStream: true,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

async function startGrpc(name: string, host: string, port: number, creds: grpc.ServerCredentials): Promise<void> {
  const server = new grpc.Server();
  server.addService(PARTNER_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<{ message?: string; status?: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const status = call.request.status ?? 0;
      if (status !== 0) cb({ code: status, details: `asked for ${status}` });
      else cb(null, { message: call.request.message ?? '', server: name });
    },
    Count: (call: grpc.ServerWritableStream<{ count?: number }, unknown>) => {
      for (let i = 0; i < (call.request.count ?? 3); i++) call.write({ seq: i, server: name });
      call.end();
    },
  });
  grpcServers.push(server);
  await new Promise<void>((resolve, reject) => server.bindAsync(`${host}:${port}`, creds, (e) => (e ? reject(e) : resolve())));
}

const YAML = (caFile: string, clientCert: string, clientKey: string): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: h2c, namespace: default}
spec:
  hosts: [h2c.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 8080, name: http2-api, protocol: HTTP2}]
  resolution: STATIC
  endpoints: [{address: ${H2C}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpc, namespace: default}
spec:
  hosts: [grpc.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 50051, name: grpc, protocol: GRPC}]
  resolution: STATIC
  endpoints: [{address: ${GRPC_PLAIN}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure, namespace: default}
spec:
  hosts: [secure.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 8443, name: http2-tls, protocol: HTTP2}]
  resolution: STATIC
  endpoints: [{address: ${H2_TLS}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure, namespace: default}
spec:
  host: secure.partner.example
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mutual, namespace: default}
spec:
  hosts: [mutual.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 8443, name: http2-mtls, protocol: HTTP2}]
  resolution: STATIC
  endpoints: [{address: ${H2_MTLS}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mutual, namespace: default}
spec:
  host: mutual.partner.example
  trafficPolicy: {tls: {mode: MUTUAL, caCertificates: ${caFile}, clientCertificate: ${clientCert}, privateKey: ${clientKey}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: grpcs, namespace: default}
spec:
  hosts: [grpcs.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 8443, name: grpc-tls, protocol: GRPC}]
  resolution: STATIC
  endpoints: [{address: ${GRPC_TLS}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: grpcs, namespace: default}
spec:
  host: grpcs.partner.example
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy, namespace: default}
spec:
  hosts: [legacy.partner.example]
  location: MESH_EXTERNAL
  ports: [{number: 8443, name: http2-legacy, protocol: HTTP2}]
  resolution: STATIC
  endpoints: [{address: ${H1_TLS}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: legacy, namespace: default}
spec:
  host: legacy.partner.example
  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: ${caFile}}}
`;

test.before(async () => {
  makeCa('ext-ca');
  makeCa('client-ca');
  makeLeaf('ext-ca', 'server', 'DNS:secure.partner.example,DNS:mutual.partner.example,DNS:grpcs.partner.example,DNS:legacy.partner.example');
  makeLeaf('client-ca', 'client', 'URI:spiffe://partner/app');
  const key = readFileSync(file('server.key'));
  const cert = readFileSync(file('server.pem'));

  const plain = http2.createServer();
  onStream(plain);
  h2Servers.push(plain);
  await listen(plain, H2C, 8080);
  const secure = http2.createSecureServer({ key, cert, allowHTTP1: false });
  onStream(secure);
  h2Servers.push(secure as unknown as http2.Http2Server);
  await listen(secure, H2_TLS, 8443);
  const mutual = http2.createSecureServer({ key, cert, allowHTTP1: false, ca: readFileSync(file('client-ca.pem')), requestCert: true, rejectUnauthorized: true });
  onStream(mutual);
  h2Servers.push(mutual as unknown as http2.Http2Server);
  await listen(mutual, H2_MTLS, 8443);
  // HTTP/1.1 only: offers no ALPN, so a client asking for h2 gets none.
  h1Server = https.createServer({ key, cert }, (_req, res) => res.end('http/1.1'));
  await listen(h1Server, H1_TLS, 8443);
  await startGrpc('partner-plain', GRPC_PLAIN, 50051, grpc.ServerCredentials.createInsecure());
  await startGrpc('partner-tls', GRPC_TLS, 8443, grpc.ServerCredentials.createSsl(null, [{ private_key: key, cert_chain: cert }], false));

  ca = await createTestCa('east');
  const snap = new SnapshotBuilder()
    .workload('sleep-v1', 'sleep', 8000, { address: CLIENT, serviceAccount: 'sleep' })
    .yaml(YAML(file('ext-ca.pem'), file('client.pem'), file('client.key')))
    .build();
  config = pilotConfig(proxyNode('sidecar', { workload: 'sleep-v1', serviceAccount: 'sleep', ip: CLIENT }), snap);
  plane = await createDataPlane({
    workload: { name: 'sleep-v1', namespace: 'default', serviceAccount: 'sleep', cluster: 'east', address: CLIENT, labels: { app: 'sleep' } },
    certificates: new StaticCertificateSource(ca.issue('default', 'sleep')),
    logger,
  });
  const applied = await plane.applyConfig(config);
  if (!applied.ok) throw applied.errors[0];
});

test.after.always(async () => {
  await plane?.close();
  for (const s of grpcServers) s.forceShutdown();
  await Promise.all(h2Servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await new Promise<void>((r) => (h1Server ? h1Server.close(() => r()) : r()));
  h1Server?.closeAllConnections();
  await ca?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON body of nghttp's or curl's output (the last line that parses). */
function seenOf(stdout: string): Seen {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.trim().startsWith('{'));
  if (line === undefined) throw new Error(`no JSON body in: ${stdout}`);
  return JSON.parse(line.trim()) as Seen;
}

function grpcClient(authority: string): grpc.Client {
  return new grpc.Client(`${CLIENT}:15001`, grpc.credentials.createInsecure(), { 'grpc.default_authority': authority });
}

function unary(client: grpc.Client, req: object): Promise<{ error: grpc.ServiceError | null; reply: Record<string, unknown> | undefined }> {
  return new Promise((resolve) => {
    client.makeUnaryRequest('/partner.Echo/Echo', json.serialize, json.deserialize, req, (error, reply) => resolve({ error, reply: reply as Record<string, unknown> | undefined }));
  });
}

function stream(client: grpc.Client, req: object): Promise<{ replies: unknown[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const replies: unknown[] = [];
    const call = client.makeServerStreamRequest('/partner.Echo/Count', json.serialize, json.deserialize, req);
    call.on('data', (r: unknown) => replies.push(r));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ replies, status }));
  });
}

test.serial('Pilot gives the HTTP2 and GRPC clusters http2_protocol_options, and ALPN h2 where it originates TLS', (t) => {
  const cluster = (name: string) => config?.clusters.get(name);
  t.truthy(cluster('outbound|8080||h2c.partner.example')?.upstreamHttp2);
  t.is(cluster('outbound|8080||h2c.partner.example')?.tls, undefined);
  t.truthy(cluster('outbound|50051||grpc.partner.example')?.upstreamHttp2);
  for (const host of ['secure', 'mutual', 'grpcs', 'legacy']) {
    const c = cluster(`outbound|8443||${host}.partner.example`);
    t.truthy(c?.upstreamHttp2, host);
    t.deepEqual(c?.tls?.alpn, ['h2'], host);
    t.is(c?.tls?.sni, `${host}.partner.example`, host);
  }
});

test.serial('nghttp (prior-knowledge h2c) reaches an external h2c server through the sidecar, which speaks HTTP/2 to it', async (t) => {
  const r = await run('nghttp', ['-H', ':authority: h2c.partner.example:8080', `http://${CLIENT}:15001/orders?id=7`]);
  t.is(r.code, 0, r.stderr);
  const seen = seenOf(r.stdout);
  t.like(seen, { version: '2.0', method: 'GET', path: '/orders?id=7', alpn: '' });
});

test.serial('curl HTTP/1.1 from the app: the sidecar upgrades the hop to the external server to h2c, body and all', async (t) => {
  const r = await httpRequest({ host: CLIENT, port: 15001 }, { method: 'POST', path: '/submit', headers: { host: 'h2c.partner.example:8080', 'content-type': 'text/plain' }, body: 'hello' });
  t.is(r.status, 200, r.body);
  t.like(JSON.parse(r.body) as Seen, { version: '2.0', method: 'POST', path: '/submit', body: 'hello' });
  const curl = await run('curl', ['-sS', '--http1.1', '-H', 'Host: h2c.partner.example:8080', `http://${CLIENT}:15001/curl`]);
  t.is(curl.code, 0, curl.stderr);
  t.like(seenOf(curl.stdout), { version: '2.0', path: '/curl' });
});

test.serial('grpc-js unary and server-streaming calls reach an external grpc-js server in h2c; an error status passes through and is counted', async (t) => {
  const client = grpcClient('grpc.partner.example:50051');
  try {
    const ok = await unary(client, { message: 'hi' });
    t.is(ok.error, null, ok.error?.message);
    t.deepEqual(ok.reply, { message: 'hi', server: 'partner-plain' });
    const s = await stream(client, { count: 4 });
    t.is(s.status.code, grpc.status.OK, s.status.details);
    t.is(s.replies.length, 4);
    const nf = await unary(client, { status: grpc.status.NOT_FOUND });
    t.is(nf.error?.code, grpc.status.NOT_FOUND);
    t.is(nf.error?.details, 'asked for 5');
  } finally {
    client.close();
  }
  const metrics = (await plane?.telemetry.metrics()) ?? '';
  const line = metrics.split('\n').find((l) => l.startsWith('istio_requests_total{') && l.includes('destination_service="grpc.partner.example"') && l.includes('grpc_response_status="5"'));
  t.log(line ?? '(no line)');
  t.truthy(line, 'the NOT_FOUND call is in istio_requests_total with grpc_response_status 5');
  t.regex(line ?? '', /request_protocol="grpc"/);
  t.regex(line ?? '', /connection_security_policy="none"/);
});

test.serial('SIMPLE: curl --http2-prior-knowledge; the sidecar originates TLS with ALPN h2 and the host as SNI, verified against the external CA', async (t) => {
  const r = await run('curl', ['-sS', '--http2-prior-knowledge', '-H', 'Host: secure.partner.example:8443', `http://${CLIENT}:15001/tls`]);
  t.is(r.code, 0, r.stderr);
  t.like(seenOf(r.stdout), { version: '2.0', path: '/tls', alpn: 'h2', sni: 'secure.partner.example', client: '' });
});

test.serial('MUTUAL: the client certificate is presented over h2 to a server that requires it', async (t) => {
  const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/mtls', headers: { host: 'mutual.partner.example:8443' } });
  t.is(r.status, 200, r.body);
  t.like(JSON.parse(r.body) as Seen, { version: '2.0', alpn: 'h2', sni: 'mutual.partner.example', client: 'client' });
});

test.serial('gRPC over originated TLS (GRPC port, SIMPLE): grpc-js to grpc-js, unary and streaming', async (t) => {
  const client = grpcClient('grpcs.partner.example:8443');
  try {
    const ok = await unary(client, { message: 'over tls' });
    t.is(ok.error, null, ok.error?.message);
    t.deepEqual(ok.reply, { message: 'over tls', server: 'partner-tls' });
    const s = await stream(client, { count: 2 });
    t.is(s.status.code, grpc.status.OK, s.status.details);
    t.is(s.replies.length, 2);
  } finally {
    client.close();
  }
});

test.serial('a TLS server that does not select h2: 503 with flag UF (after the default retries, URX), and the sidecar keeps serving', async (t) => {
  const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/', headers: { host: 'legacy.partner.example:8443' } });
  t.log(`${r.status} ${String(r.headers['x-meshfed-response-flags'])}: ${r.body}`);
  t.is(r.status, 503);
  // Pilot's default retry policy (Istio's: connect-failure among its conditions) retries the failed handshake.
  t.deepEqual(String(r.headers['x-meshfed-response-flags']).split(',').sort(), ['UF', 'URX']);
  const again = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/still', headers: { host: 'h2c.partner.example:8080' } });
  t.is(again.status, 200);
});
