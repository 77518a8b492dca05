import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import test from 'ava';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { closeHttp, endpoint, listenOn, match, route } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * An upstream that answers an Upgrade request with 200 instead of 101 (issue 8 §5 case 14), on a
 * real sidecar pair with websocket enabled: the app's outbound :15001 at 127.185.4.1 → mesh
 * mTLS → the inbound :15006 at 127.185.4.2 → the app; and a plaintext app outside the mesh at
 * 127.185.4.3. Both apps answer every upgrade with `200 not a tunnel` and record any byte that
 * reaches them after the request head. The 200 must come back as a response, and nothing sent
 * after the upgrade request (a smuggled request) may be tunnelled to the app.
 */
const CLIENT = '127.185.4.1';
const SERVER = '127.185.4.2';
const PLAIN = '127.185.4.3';
const APP_PORT = 9080;
const PLAIN_PORT = 9081;
const HOST = `echo:${APP_PORT}`;
const PLAIN_CLUSTER = `outbound|${PLAIN_PORT}||plain.example`;
const BODY = 'not a tunnel';

interface Seen {
  upgrades: string[];
  requests: string[];
  afterHead: number;
}

/** Sockets the apps took over from their HTTP servers (closeHttp does not see them). */
const upgraded = new Set<Duplex>();

/** An app that declines every upgrade with 200 and counts what arrives after. */
function decliningApp(seen: Seen): http.Server {
  const server = http.createServer((req, res) => {
    seen.requests.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    seen.upgrades.push(req.url ?? '');
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    seen.afterHead += head.length;
    socket.on('data', (c: Buffer) => {
      seen.afterHead += c.length;
    });
    socket.on('error', () => {});
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-meshfed-upgrade-declined: forged\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`);
  });
  return server;
}

const meshSeen: Seen = { upgrades: [], requests: [], afterHead: 0 };
const plainSeen: Seen = { upgrades: [], requests: [], afterHead: 0 };
const app = decliningApp(meshSeen);
const plainApp = decliningApp(plainSeen);
let pair: SidecarPair;

test.before(async () => {
  await listenOn(app, SERVER, APP_PORT);
  await listenOn(plainApp, PLAIN, PLAIN_PORT);
  const plainCluster: ClusterConfig = {
    name: PLAIN_CLUSTER,
    type: 'STATIC',
    edsServiceName: PLAIN_CLUSTER,
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 1000,
    staticEndpoints: [endpoint(PLAIN, PLAIN_PORT)],
  };
  pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'echo',
    appPort: APP_PORT,
    websocket: true,
    routes: (mesh) => [route('plain', PLAIN_CLUSTER, { match: match({ prefix: '/plain' }) }), route('mesh', mesh)],
    extraClusters: [plainCluster],
  });
});

test.after.always(async () => {
  await pair?.close();
  for (const s of upgraded) s.destroy();
  await closeHttp(app);
  await closeHttp(plainApp);
});

const UPGRADE_HEAD = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
const SMUGGLED = `GET /admin HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;

/** Sends the upgrade and a smuggled request in one write; resolves with all read once the proxy closes. */
function exchange(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: CLIENT, port: pair.outbound.port });
    const chunks: Buffer[] = [];
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('connect', () => socket.write(bytes));
    socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const ROWS = [
  { name: 'through the mesh (mTLS, the inbound sidecar upgrades to the app)', path: '/ws', seen: meshSeen },
  { name: 'to a plaintext upstream outside the mesh', path: '/plain/ws', seen: plainSeen },
] as const;

for (const row of ROWS) {
  test.serial(`HTTP/1.1 upgrade answered 200 ${row.name} → relayed as a response, connection closed, never a tunnel`, async (t) => {
    const upgrades = row.seen.upgrades.length;
    const after = row.seen.afterHead;
    const reply = await exchange(UPGRADE_HEAD(row.path) + SMUGGLED);
    t.regex(reply, /^HTTP\/1\.1 200 /);
    t.true(reply.endsWith(`\r\n\r\n${BODY}`), 'the upstream body is relayed');
    t.notRegex(reply, /101 Switching Protocols/);
    t.notRegex(reply.toLowerCase(), /x-meshfed-upgrade-declined/, 'internal headers never reach the app');
    t.is(row.seen.upgrades.length, upgrades + 1);
    t.false(row.seen.requests.includes('/admin'), 'the smuggled request never reached the upstream');
    await new Promise((r) => setTimeout(r, 50));
    t.is(row.seen.afterHead, after, 'no byte after the upgrade request was tunnelled');
  });
}

test.serial('h2c extended CONNECT answered 200 by the app → 502, not a tunnel; the session keeps serving requests', async (t) => {
  const client = http2.connect(`http://${CLIENT}:${pair.outbound.port}`);
  client.on('error', () => {});
  try {
    await new Promise((r) => client.once('remoteSettings', r));
    const after = meshSeen.afterHead;
    const stream = client.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': HOST, ':path': '/h2ws', 'sec-websocket-version': '13' }, { endStream: false });
    stream.on('error', () => {});
    const head = await new Promise<http2.IncomingHttpHeaders>((r) => stream.once('response', r));
    t.is(Number(head[':status']), 502);
    stream.resume();
    stream.end('smuggled bytes');
    await new Promise((r) => stream.once('close', r));
    t.is(meshSeen.afterHead, after, 'nothing written on the stream reached the app');
    // The session is still HTTP: a later request on it is routed and answered.
    const req = client.request({ ':path': '/later', ':authority': HOST });
    req.resume();
    const later = await new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r));
    t.is(Number(later[':status']), 200);
    t.true(meshSeen.requests.includes('/later'));
  } finally {
    client.close();
  }
});
