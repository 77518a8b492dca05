import http from 'node:http';
import test from 'ava';
import { DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS } from '../../src/sidecar/outbound-upstream.ts';
import { closeHttp, endpoint, httpRequest, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Upstream sessions (issue 8 §4 Sessions) on a real sidecar pair: the outbound :15001 at
 * 127.185.7.1 → mesh mTLS → the inbound at 127.185.7.2 → app A, which holds `/slow` until
 * released; app B at 127.185.7.3 is a plaintext endpoint of the same service. An EDS update
 * that removes A while a stream to it is in flight: that stream completes, the session to A is
 * closed, and new requests go to B.
 */
const CLIENT = '127.185.7.1';
const SERVER = '127.185.7.2';
const OTHER = '127.185.7.3';
const APP_PORT = 9080;
const HOST = `echo:${APP_PORT}`;

const held: http.ServerResponse[] = [];
const appA = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/slow') held.push(res);
  else res.end('a');
});
const appB = http.createServer((req, res) => {
  req.resume();
  res.end('b');
});
let pair: SidecarPair;

test.before(async () => {
  await listenOn(appA, SERVER, APP_PORT);
  await listenOn(appB, OTHER, APP_PORT);
  pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'echo', appPort: APP_PORT });
});

test.after.always(async () => {
  for (const r of held) r.end();
  await pair?.close();
  await closeHttp(appA);
  await closeHttp(appB);
});

async function settle(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 250 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  return check();
}

test("upstream sessions default to Envoy's 1 h idle timeout", (t) => {
  t.is(DEFAULT_UPSTREAM_IDLE_TIMEOUT_MS, 3_600_000);
});

test.serial('an endpoint removed by EDS: its in-flight stream completes, its session closes, new requests go elsewhere', async (t) => {
  t.is((await httpRequest(pair.outbound, { headers: { host: HOST } })).body, 'a');
  t.is(pair.client.upstreamSessions(), 1, 'one mesh session to A');
  const slow = httpRequest(pair.outbound, { path: '/slow', headers: { host: HOST } });
  t.true(await settle(() => held.length === 1), 'the slow request reached A');

  // EDS now lists only B.
  const cfg = pair.client.config();
  const endpoints = new Map(cfg.endpoints);
  endpoints.set(pair.clusterName, { clusterName: pair.clusterName, endpoints: [endpoint(OTHER, APP_PORT)] });
  const applied = await pair.client.applyConfig({ ...cfg, endpoints, versions: { ...cfg.versions, endpoint: '2' } });
  t.true(applied.ok);

  t.is((await httpRequest(pair.outbound, { headers: { host: HOST } })).body, 'b', 'new requests go to the remaining endpoint');
  held.shift()?.end('a, finished');
  const done = await slow;
  t.is(done.status, 200);
  t.is(done.body, 'a, finished', 'the in-flight stream completed');
  t.true(await settle(() => pair.client.upstreamSessions() === 0), 'the session to A is closed');
  t.is((await httpRequest(pair.outbound, { headers: { host: HOST } })).body, 'b');
  t.is(pair.client.upstreamSessions(), 0, 'no new session to A');
});
