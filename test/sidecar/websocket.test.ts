import type http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import test from 'ava';
import { Agent, WebSocket } from 'undici';
import { acceptKey } from '../../src/cli/apps/echo-websocket.ts';
import { startEchoHttp } from '../../src/cli/apps/echo-http.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { closeHttp, httpRequest, match, route } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';
import { clientFrame, serverFrame } from '../support/websocket-frames.ts';

/**
 * WebSocket through a sidecar pair with undici's WebSocket client: app → HTTP/1.1 Upgrade →
 * outbound sidecar 127.65.3.1:15001 → RFC 8441 extended CONNECT over mesh mTLS h2 → inbound
 * sidecar 127.65.3.2:15006 → HTTP/1.1 Upgrade → the echo app's WebSocket mode (127.65.3.2:9080).
 * `/reset` is answered 101 by a test hook, then the app resets its socket (TCP RST): UC. An h2c
 * app (node:http2's client) opens its WebSocket with an RFC 8441 extended CONNECT instead.
 * Block 127.65.3.0/24.
 */
const CLIENT = '127.65.3.1';
const SERVER = '127.65.3.2';
const APP_PORT = 9080;

let app: http.Server;
/** Upgrade requests the app received (path, and the header the rewritten route sets). */
const seenUpgrades: { url: string; header: string | string[] | undefined }[] = [];
let pair: SidecarPair;
const identity = { cluster: 'east', namespace: 'default', workload: 'echo-v1', service: 'echo', version: 'v1' };

/** An undici dispatcher whose every connection goes to the outbound sidecar (capture, as iptables would). */
const viaSidecar = new Agent({
  connect: (_opts, cb) => {
    const s = net.connect(15001, CLIENT);
    s.once('connect', () => cb(null, s));
    s.once('error', (e) => cb(e, null));
  },
});

test.before(async () => {
  app = await startEchoHttp({ ...identity }, SERVER, APP_PORT);
  // A hook before the echo app's own upgrade handler: /reset accepts, then drops the socket.
  const own = app.listeners('upgrade') as ((req: http.IncomingMessage, socket: Duplex, head: Buffer) => void)[];
  app.removeAllListeners('upgrade');
  app.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (req.url === '/reset') {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`);
      socket.once('data', () => (socket as net.Socket).resetAndDestroy());
      return;
    }
    seenUpgrades.push({ url: req.url ?? '', header: req.headers['x-upgrade-route'] });
    for (const l of own) l.call(app, req, socket, head);
  });
  pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'echo',
    appPort: APP_PORT,
    websocket: true,
    outboundFilters: [{ name: 'envoy.filters.http.fault', typeUrl: TYPED_CONFIG.fault }],
    routes: (cluster) => [
      route('no-ws', cluster, { match: match({ prefix: '/no-ws' }), websocket: false }),
      route('faulted', cluster, { match: match({ prefix: '/faulted' }), perFilter: { fault: { abort: { httpStatus: 503, perMillion: 1_000_000 } } } }),
      route('rewritten', cluster, { match: match({ prefix: '/old' }), rewrite: { prefix: '/new' }, requestHeaders: { set: [['x-upgrade-route', 'rewritten']], add: [], remove: [] } }),
      route('default', cluster),
    ],
  });
});

test.after.always(async () => {
  await pair?.close();
  await viaSidecar.close();
  if (app) await closeHttp(app);
});

function open(path: string, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://echo:${APP_PORT}${path}`, { dispatcher: viaSidecar, ...(protocols ? { protocols } : {}) });
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('open', () => resolve(ws));
    ws.addEventListener('error', () => reject(new Error(`websocket ${path} failed to open`)));
  });
}

function next(ws: WebSocket): Promise<string | Buffer> {
  return new Promise((resolve) => {
    ws.addEventListener('message', (e) => resolve(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer)), { once: true });
  });
}

/** Scrapes a sidecar until a sample with these labels shows up (each one lands when its tunnel has closed). */
async function metricEventually(url: string, labels: Record<string, string>): Promise<string | undefined> {
  for (let i = 0; i < 100; i++) {
    const text = await (await fetch(`${url}/stats/prometheus`)).text();
    const line = metricLine(text, 'istio_requests_total', labels);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.addEventListener('close', (e) => resolve(e.code), { once: true }));
}

test.serial('a WebSocket echo round trip crosses the mesh: text, binary, and the app says who it is', async (t) => {
  const ws = await open('/ws');
  const who = next(ws);
  ws.send('whoami');
  t.like(JSON.parse(String(await who)), { workload: 'echo-v1' });
  const text = next(ws);
  ws.send('hello over extended CONNECT');
  t.is(await text, 'hello over extended CONNECT');
  const big = Buffer.alloc(200_000, 7);
  const bin = next(ws);
  ws.send(big);
  t.true(Buffer.from(await bin).equals(big));
  const done = closed(ws);
  ws.close(1000);
  t.is(await done, 1000);
});

test.serial('both sidecars report the upgrade: source 101, destination 200 on the tunnel, no flags', async (t) => {
  t.truthy(await metricEventually(pair.client.urls.metrics, { reporter: 'source', response_code: '101', response_flags: '-', connection_security_policy: 'mutual_tls', destination_workload: 'echo-v1' }));
  t.truthy(await metricEventually(pair.server.urls.metrics, { reporter: 'destination', response_code: '200', response_flags: '-', source_workload: 'caller-v1' }));
});

test.serial('a route whose upgrade_configs disable websocket answers 403', async (t) => {
  const r = await httpRequest(pair.outbound, {
    path: '/no-ws',
    headers: { host: 'echo', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
  });
  t.is(r.status, 403);
});

test.serial('the app resetting its socket mid-tunnel closes the client abnormally, with flag UC on both sidecars', async (t) => {
  const ws = await open('/reset');
  const code = closed(ws);
  ws.send('bye');
  t.is(await code, 1006);
  t.truthy(await metricEventually(pair.client.urls.metrics, { reporter: 'source', response_flags: 'UC' }));
  t.truthy(await metricEventually(pair.server.urls.metrics, { reporter: 'destination', response_flags: 'UC' }));
});

test.serial("the route's fault filter applies to the upgrade request: abort 503 with flag FI", async (t) => {
  const r = await httpRequest(pair.outbound, {
    path: '/faulted',
    headers: { host: 'echo', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
  });
  t.is(r.status, 503);
  t.is(r.headers['x-meshfed-response-flags'], 'FI');
});

test.serial("the route's rewrite and request header edits reach the app on an upgrade", async (t) => {
  seenUpgrades.length = 0;
  const ws = await open('/old/path');
  const done = closed(ws);
  ws.close(1000);
  await done;
  t.is(seenUpgrades[0]?.url, '/new/path');
  t.is(seenUpgrades[0]?.header, 'rewritten');
});

test.serial('an h2c app opens a WebSocket with RFC 8441 extended CONNECT: the outbound port enables it, and the echo crosses both sidecars', async (t) => {
  const session = http2.connect(`http://${CLIENT}:15001`);
  try {
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    t.true(settings.enableConnectProtocol, 'SETTINGS_ENABLE_CONNECT_PROTOCOL from the outbound listener');
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': `echo:${APP_PORT}`, ':path': '/h2', 'sec-websocket-version': '13' });
    const response = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    t.is(Number(response[':status']), 200);
    t.is(response['sec-websocket-accept'], undefined, 'no Sec-WebSocket-Accept toward an HTTP/2 client');
    const who = serverFrame(stream);
    stream.write(clientFrame(0x1, Buffer.from('whoami')));
    t.like(JSON.parse((await who).payload), { workload: 'echo-v1' });
    const echo = serverFrame(stream);
    stream.write(clientFrame(0x1, Buffer.from('hello from h2c')));
    t.deepEqual(await echo, { opcode: 1, payload: 'hello from h2c' });
    stream.write(clientFrame(0x8, Buffer.from([0x03, 0xe8])));
    const close = await serverFrame(stream);
    t.is(close.opcode, 0x8);
    stream.end();
  } finally {
    session.close();
  }
  t.truthy(await metricEventually(pair.client.urls.metrics, { reporter: 'source', response_code: '101', request_protocol: 'http', connection_security_policy: 'mutual_tls', destination_workload: 'echo-v1' }));
});

test.serial('h2c CONNECT without :protocol (plain tunnelling) is refused with 405', async (t) => {
  const session = http2.connect(`http://${CLIENT}:15001`);
  try {
    const stream = session.request({ ':method': 'CONNECT', ':authority': `echo:${APP_PORT}` });
    const response = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    t.is(Number(response[':status']), 405);
    stream.close();
  } finally {
    session.close();
  }
});
