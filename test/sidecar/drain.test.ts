import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { closeHttp, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Graceful drain (SIGTERM, case 29) on a real sidecar pair: the outbound sidecar at 127.162.3.1,
 * the inbound sidecar and an app that answers once released at 127.162.3.2. The app counts what
 * it saw, so the test tells a finished request from a lost one.
 */
const CLIENT = '127.162.3.1';
const SERVER = '127.162.3.2';
const APP_PORT = 9080;

let seen = 0;
const held: (() => void)[] = [];
const app = http.createServer((req, res) => {
  seen += 1;
  req.resume();
  held.push(() => res.end('done'));
});
let pair: SidecarPair;

test.before(async () => {
  await listenOn(app, SERVER, APP_PORT);
  pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'echo', appPort: APP_PORT });
});

test.after.always(async () => {
  await pair?.close();
  await closeHttp(app);
});

function get(): Promise<{ status: number; connection: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: CLIENT, port: pair.outbound.port, path: '/', headers: { host: `echo:${APP_PORT}` }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function connectOutcome(): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: CLIENT, port: pair.outbound.port });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

test('drain: not ready at once, new connections refused, the request in flight finishes, then closed (case 29)', async (t) => {
  t.true(pair.client.readiness().ready);
  const inFlight = get();
  while (seen === 0) await new Promise((r) => setTimeout(r, 10));
  const drained = pair.client.drain(5000);
  t.deepEqual(pair.client.readiness(), { ready: false, reason: 'draining' });
  t.is(await connectOutcome(), 'ECONNREFUSED');
  for (const release of held.splice(0)) release();
  const reply = await inFlight;
  t.is(reply.status, 200);
  t.is(reply.body, 'done');
  t.is(reply.connection, 'close');
  await drained;
  t.is(seen, 1);
});
