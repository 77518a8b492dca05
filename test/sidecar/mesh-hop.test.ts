import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createPrivateKey } from 'node:crypto';
import tls from 'node:tls';
import test from 'ava';
import { pino } from 'pino';
import { issueServingCertificate } from '../../src/citadel/index.ts';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { outboundClusterName, ROUTE_OUTBOUND, serviceHostname } from '../../src/xds/naming.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import {
  closeHttp,
  endpoint,
  httpRequest,
  inboundCluster,
  inboundListener,
  listenOn,
  meshCluster,
  outboundListener,
  proxyConfig,
  route,
  match,
} from './support-config.ts';

/**
 * Two data planes on real sockets: app (curl-like client) → outbound sidecar of `productpage`
 * (127.61.1.1) → mTLS h2 → inbound sidecar of `reviews` (127.61.1.2) → echo app (127.61.1.2:9080).
 */
const CLIENT = '127.61.1.1';
const SERVER = '127.61.1.2';
const NOWHERE = '127.61.1.3';
const APP_PORT = 9080;
const REVIEWS = serviceHostname('reviews', 'default');
const REVIEWS_CLUSTER = outboundClusterName(APP_PORT, '', REVIEWS);
const PLAIN_CLUSTER = outboundClusterName(APP_PORT, 'plain', REVIEWS);
const logger = pino({ level: 'silent' });

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let ca: TestCa;
let foreignCa: TestCa;
let client: DataPlane;
let server: DataPlane;
let serverCerts: StaticCertificateSource;
let clientCerts: StaticCertificateSource;
const seen: Seen[] = [];
const held: (() => void)[] = [];
const heldWaiters: (() => void)[] = [];
const app = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
    if (req.url === '/reset') {
      req.socket.destroy();
      return;
    }
    if (req.url === '/hang') return;
    if (req.url === '/held') {
      held.push(() => res.end('released'));
      for (const w of heldWaiters.splice(0)) w();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'reviews' });
    res.end(`echo ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
  });
});

test.before(async () => {
  ca = await createTestCa('east');
  foreignCa = await createTestCa('west', 'cluster.local');
  await listenOn(app, SERVER, APP_PORT);
  clientCerts = new StaticCertificateSource(ca.issue('default', 'productpage'));
  serverCerts = new StaticCertificateSource(ca.issue('default', 'reviews'));
  client = await createDataPlane({
    workload: { name: 'productpage-v1', namespace: 'default', serviceAccount: 'productpage', cluster: 'east', address: CLIENT, labels: { app: 'productpage', version: 'v1' } },
    certificates: clientCerts,
    logger,
  });
  server = await createDataPlane({
    workload: { name: 'reviews-v1', namespace: 'default', serviceAccount: 'reviews', cluster: 'east', address: SERVER, labels: { app: 'reviews', version: 'v1' } },
    certificates: serverCerts,
    logger,
  });
  const outbound = {
    name: ROUTE_OUTBOUND,
    virtualHosts: [
      {
        name: 'reviews',
        domains: [REVIEWS, `${REVIEWS}:${APP_PORT}`, 'reviews', `reviews:${APP_PORT}`],
        routes: [route('hang', REVIEWS_CLUSTER, { match: match({ path: '/hang' }), timeoutMs: 300 }), route('default', REVIEWS_CLUSTER)],
      },
      { name: 'empty', domains: ['empty'], routes: [route('default', 'outbound|80||empty.default.svc.cluster.local')] },
      { name: 'down', domains: ['down'], routes: [route('default', 'outbound|80||down.default.svc.cluster.local')] },
      { name: 'missing', domains: ['missing'], routes: [route('default', 'outbound|80||missing.default.svc.cluster.local')] },
      { name: 'plain', domains: ['reviews-plain'], routes: [route('default', PLAIN_CLUSTER)] },
    ],
  };
  // Panic threshold 0 (what Pilot sends with outlier detection): the unhealthy endpoint is never picked.
  const empty = { ...meshCluster('empty', 'default', 80), healthyPanicThresholdPercent: 0 };
  const down = { ...meshCluster('down', 'default', 80) };
  const c = await client.applyConfig(
    proxyConfig({
      listeners: [outboundListener(CLIENT)],
      routes: [outbound],
      // What Pilot writes for a DestinationRule with tls DISABLE: the same endpoints, no transport socket.
      clusters: [meshCluster('reviews', 'default', APP_PORT), empty, down, { ...meshCluster('reviews', 'default', APP_PORT), name: PLAIN_CLUSTER, edsServiceName: PLAIN_CLUSTER, tls: undefined }],
      endpoints: [
        {
          clusterName: REVIEWS_CLUSTER,
          endpoints: [endpoint(SERVER, APP_PORT, { tlsMode: 'istio', inboundPort: 15006, workload: 'reviews-v1', namespace: 'default', cluster: 'east' })],
        },
        {
          clusterName: PLAIN_CLUSTER,
          endpoints: [endpoint(SERVER, APP_PORT, { tlsMode: 'istio', inboundPort: 15006, workload: 'reviews-v1', namespace: 'default', cluster: 'east' })],
        },
        { clusterName: empty.name, endpoints: [endpoint(SERVER, 80, { tlsMode: 'istio', healthy: false })] },
        { clusterName: down.name, endpoints: [endpoint(NOWHERE, 80, { tlsMode: 'istio', inboundPort: 15006 })] },
      ],
    }),
  );
  if (!c.ok) throw c.errors[0];
  const s = await server.applyConfig(
    proxyConfig({ listeners: [inboundListener(SERVER, [APP_PORT])], clusters: [inboundCluster(SERVER, APP_PORT)] }),
  );
  if (!s.ok) throw s.errors[0];
});

test.after.always(async () => {
  await Promise.all([client?.close(), server?.close(), closeHttp(app)]);
  await Promise.all([ca?.dispose(), foreignCa?.dispose()]);
});

const outboundAddr = { host: CLIENT, port: 15001 };

test.serial('a request crosses the mesh hop; the app sees the caller in XFCC and no forged XFCC or peer metadata', async (t) => {
  seen.length = 0;
  const reply = await httpRequest(outboundAddr, {
    method: 'POST',
    path: '/reviews/1?x=y',
    headers: { host: `reviews:${APP_PORT}`, 'x-forwarded-client-cert': 'By=spiffe://evil/ns/x/sa/y;URI=spiffe://cluster.local/ns/default/sa/admin', connection: 'keep-alive, x-hop', 'x-hop': 'drop-me' },
    body: 'hello body',
  });
  t.is(reply.status, 200);
  t.is(reply.body, 'echo POST /reviews/1?x=y hello body');
  t.is(reply.headers['x-app'], 'reviews');
  t.is(reply.headers['x-meshfed-peer-metadata'], undefined);
  t.is(seen.length, 1);
  const h = seen[0]!.headers;
  const xfcc = String(h['x-forwarded-client-cert']);
  t.regex(xfcc, /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews;Hash=[0-9a-f]{64};URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/);
  t.false(xfcc.includes('evil'));
  t.is(h['x-meshfed-peer-metadata'], undefined);
  t.is(h['x-hop'], undefined);
  t.is(h.host, `reviews:${APP_PORT}`);
});

function metricLine(text: string, name: string, labels: Record<string, string>): string | undefined {
  return text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
}

test.serial('both sidecars report istio_requests_total with mutual_tls and the peer labels', async (t) => {
  await httpRequest(outboundAddr, { path: '/metrics-probe', headers: { host: REVIEWS } });
  const src = await (await fetch(`${client.urls.metrics}/stats/prometheus`)).text();
  const dst = await (await fetch(`${server.urls.metrics}/stats/prometheus`)).text();
  const common = {
    source_workload: 'productpage-v1',
    source_workload_namespace: 'default',
    source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
    source_cluster: 'east',
    destination_workload: 'reviews-v1',
    destination_workload_namespace: 'default',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
    destination_service: REVIEWS,
    destination_service_name: 'reviews',
    destination_cluster: 'east',
    response_code: '200',
    response_flags: '-',
    connection_security_policy: 'mutual_tls',
  };
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', ...common }), src);
  t.truthy(metricLine(dst, 'istio_requests_total', { reporter: 'destination', ...common }), dst);
  t.truthy(metricLine(src, 'istio_request_duration_milliseconds_bucket', { reporter: 'source', le: '+Inf' }));
  t.truthy(metricLine(dst, 'istio_response_bytes_count', { reporter: 'destination' }));
});

test.serial('tls DISABLE: plaintext h2c to the inbound port, accepted as PERMISSIVE; the destination sees no peer identity and no XFCC', async (t) => {
  seen.length = 0;
  const reply = await httpRequest(outboundAddr, { path: '/plain', headers: { host: 'reviews-plain', 'x-forwarded-client-cert': 'By=forged' } });
  t.is(reply.status, 200, reply.body);
  t.is(seen.length, 1);
  t.is(seen[0]?.headers['x-forwarded-client-cert'], undefined);
  const dst = await (await fetch(`${server.urls.metrics}/stats/prometheus`)).text();
  const line = metricLine(dst, 'istio_requests_total', {
    reporter: 'destination',
    source_workload: 'productpage-v1',
    source_principal: 'unknown',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/reviews',
    connection_security_policy: 'none',
    response_code: '200',
  });
  t.truthy(line, dst);
});

test.serial('local replies carry Envoy response flags: NR, UH, NC, UF, UT', async (t) => {
  const table = [
    { host: 'nobody.example', path: '/', status: 404, flag: 'NR' },
    { host: 'empty', path: '/', status: 503, flag: 'UH' },
    { host: 'missing', path: '/', status: 503, flag: 'NC' },
    { host: 'down', path: '/', status: 503, flag: 'UF' },
    { host: 'reviews', path: '/hang', status: 504, flag: 'UT' },
  ];
  for (const row of table) {
    const reply = await httpRequest(outboundAddr, { path: row.path, headers: { host: row.host } });
    t.is(reply.status, row.status, row.host);
    t.is(reply.headers['x-meshfed-response-flags'], row.flag, row.host);
  }
  const metrics = await (await fetch(`${client.urls.metrics}/stats/prometheus`)).text();
  t.truthy(metricLine(metrics, 'istio_requests_total', { response_code: '404', response_flags: 'NR' }));
  t.truthy(metricLine(metrics, 'istio_requests_total', { response_code: '504', response_flags: 'UT' }));
});

test.serial('an app that resets the connection yields 503 with flag UR', async (t) => {
  const reply = await httpRequest(outboundAddr, { path: '/reset', headers: { host: 'reviews' } });
  t.is(reply.status, 503);
  t.is(reply.headers['x-meshfed-response-flags'], 'UR');
});

test.serial('a malformed request gets 400 from the parser and never reaches the app', async (t) => {
  seen.length = 0;
  const response = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(outboundAddr.port, outboundAddr.host, () => {
      socket.write('GET /x HTTP/1.1\r\nHost: reviews\r\nBad Header Line\r\n\r\n');
    });
    let data = '';
    socket.on('data', (c: Buffer) => {
      data += c.toString();
    });
    socket.on('end', () => resolve(data));
    socket.on('close', () => resolve(data));
    socket.on('error', reject);
  });
  t.regex(response, /^HTTP\/1\.1 400 /);
  t.is(seen.length, 0);
});

/** Tries one HTTP/2 request over TLS to the inbound listener; resolves with the status or the error. */
function inboundAttempt(options: tls.ConnectionOptions): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const session = http2.connect(`https://${SERVER}:15006`, { ...options, servername: `outbound_.${APP_PORT}_._.${REVIEWS}` });
    const done = (r: { status?: number; error?: string }): void => {
      session.destroy();
      resolve(r);
    };
    session.on('error', (e) => done({ error: e.message }));
    const req = session.request({ ':path': '/direct', ':authority': 'reviews' });
    req.on('response', (h) => {
      req.resume();
      req.on('end', () => done({ status: Number(h[':status']) }));
    });
    req.on('error', (e) => done({ error: e.message }));
    req.on('close', () => done({ error: 'stream closed' }));
    req.end();
  });
}

test.serial('inbound refuses clients without a certificate, with a foreign root, without a SPIFFE ID, or in plain TCP', async (t) => {
  t.timeout(20_000);
  seen.length = 0;
  const roots = ca.ca.rootPem;
  const good = clientCerts.current();
  const ok = await inboundAttempt({ ca: roots, key: good.privateKeyPem, cert: good.certChainPem, checkServerIdentity: () => undefined });
  t.is(ok.status, 200, 'control: a mesh client gets through');
  t.is(seen.length, 1);
  seen.length = 0;

  const noCert = await inboundAttempt({ ca: roots, checkServerIdentity: () => undefined });
  t.truthy(noCert.error, 'no client certificate');
  const foreign = foreignCa.issue('default', 'productpage');
  const foreignReply = await inboundAttempt({ ca: roots, key: foreign.privateKeyPem, cert: foreign.certChainPem, checkServerIdentity: () => undefined });
  t.truthy(foreignReply.error, 'foreign root');
  const noSpiffe = issueServingCertificate({ ca: ca.ca, dnsNames: ['productpage.default.svc'], ttlSeconds: 3600 });
  const noSpiffeReply = await inboundAttempt({ ca: roots, key: noSpiffe.privateKeyPem, cert: noSpiffe.certChainPem, checkServerIdentity: () => undefined });
  t.truthy(noSpiffeReply.error, 'chain reaches the roots but carries no SPIFFE ID');
  // The sidecar itself drops such a connection right after the handshake (before any request).
  const dropped = await new Promise<boolean>((resolve) => {
    const socket = tls.connect({ host: SERVER, port: 15006, ALPNProtocols: ['h2'], ca: roots, key: noSpiffe.privateKeyPem, cert: noSpiffe.certChainPem, checkServerIdentity: () => undefined });
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(true));
  });
  t.true(dropped);
  const plain = await new Promise<string>((resolve) => {
    const socket = net.connect(15006, SERVER, () => socket.write('GET / HTTP/1.1\r\nHost: reviews\r\n\r\n'));
    let data = '';
    socket.on('data', (c: Buffer) => {
      data += c.toString('latin1');
    });
    socket.on('close', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  t.false(plain.includes('HTTP/1.1 200'));
  t.is(seen.length, 0, 'the app was never called');
});

test.serial('certificate rotation swaps the inbound context: a new connection sees the new serial', async (t) => {
  const serialOf = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const good = clientCerts.current();
      const socket = tls.connect({
        host: SERVER,
        port: 15006,
        servername: `outbound_.${APP_PORT}_._.${REVIEWS}`,
        ALPNProtocols: ['h2'],
        ca: ca.ca.rootPem,
        key: good.privateKeyPem,
        cert: good.certChainPem,
        checkServerIdentity: () => undefined,
      });
      socket.once('secureConnect', () => {
        const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
        socket.destroy();
        resolve(serial);
      });
      socket.once('error', reject);
    });
  const before = await serialOf();
  const next = ca.issue('default', 'reviews');
  serverCerts.rotate(next);
  const after = await serialOf();
  t.not(after, before);
  const dump = (await (await fetch(`${server.urls.admin}/config_dump`)).json()) as { certificate: { serial: string } };
  t.is(after, dump.certificate.serial);
  // Outbound sessions are retired on the client's rotation too, and traffic keeps flowing.
  clientCerts.rotate(ca.issue('default', 'productpage'));
  t.is(client.upstreamSessions(), 0);
  const reply = await httpRequest(outboundAddr, { path: '/after-rotation', headers: { host: 'reviews' } });
  t.is(reply.status, 200);
  t.regex(String(seen.at(-1)?.headers['x-forwarded-client-cert']), /URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/);
});

test.serial('admin and health report readiness; config_dump lists the config', async (t) => {
  const ready = await fetch(`${client.urls.admin}/ready`);
  t.is(ready.status, 200);
  const health = await fetch(`${server.urls.health}/healthz/ready`);
  t.is(health.status, 200);
  const dump = (await (await fetch(`${client.urls.admin}/config_dump`)).json()) as {
    listeners: { name: string }[];
    clusters: { name: string }[];
    versions: Record<string, string>;
    certificate: { spiffeId: string };
  };
  t.deepEqual(dump.listeners.map((l) => l.name), ['virtualOutbound']);
  t.true(dump.clusters.some((c) => c.name === REVIEWS_CLUSTER));
  t.is(dump.versions['cluster'], '1');
  t.is(dump.certificate.spiffeId, 'spiffe://cluster.local/ns/default/sa/productpage');
});

test.serial('a config change applies to new requests without dropping one in flight', async (t) => {
  const inFlight = httpRequest(outboundAddr, { path: '/held', headers: { host: 'reviews' } });
  while (held.length === 0) await new Promise<void>((r) => heldWaiters.push(r));
  const before = client.config();
  const applied = await client.applyConfig({
    ...before,
    routes: new Map([[ROUTE_OUTBOUND, { name: ROUTE_OUTBOUND, virtualHosts: [] }]]),
    versions: { ...before.versions, route: '2' },
  });
  t.true(applied.ok);
  const next = await httpRequest(outboundAddr, { path: '/', headers: { host: 'reviews' } });
  t.is(next.status, 404, 'the new route table is in force');
  held.shift()?.();
  const reply = await inFlight;
  t.is(reply.status, 200);
  t.is(reply.body, 'released');
  await client.applyConfig(before);
});

/** The secret forms of a PEM private key: its base64 body, and the raw private scalar as hex and base64url. */
function keyForms(privateKeyPem: string): string[] {
  const body = privateKeyPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const jwk = createPrivateKey(privateKeyPem).export({ format: 'jwk' });
  const d = typeof jwk.d === 'string' ? jwk.d : '';
  return [body, body.slice(0, 40), d, Buffer.from(d, 'base64url').toString('hex'), Buffer.from(d, 'base64url').toString('base64')].filter((s) => s.length >= 16);
}

test.serial('no admin, health or metrics page carries key material (§3: the operator ports leak nothing)', async (t) => {
  const pages = [client, server].flatMap((dp) => [
    `${dp.urls.admin}/config_dump`,
    `${dp.urls.admin}/ready`,
    `${dp.urls.admin}/certs`,
    `${dp.urls.admin}/nothing-here`,
    `${dp.urls.health}/healthz/ready`,
    `${dp.urls.metrics}/stats/prometheus`,
  ]);
  const secrets = [clientCerts, serverCerts].flatMap((c) => keyForms(c.current().privateKeyPem));
  t.true(secrets.length >= 8, 'each key yields its secret forms');
  for (const url of pages) {
    const body = await (await fetch(url)).text();
    t.notRegex(body, /PRIVATE KEY/, url);
    for (const s of secrets) t.false(body.includes(s), `${url} holds key material`);
  }
  // The admin port binds where the workload is: this workload's address is a loopback one.
  t.is(new URL(client.urls.admin).hostname, CLIENT);
});
