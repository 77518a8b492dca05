import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { H2SessionPool } from '../../src/sidecar/upstream-h2-pool.ts';
import { createTestCa } from './support-certs.ts';

/**
 * The mesh HTTP/2 session pool against a real mTLS HTTP/2 server with Citadel certificates.
 * Address: 127.62.9.1.
 */
const HOST = '127.62.9.1';

test('maxRequestsPerConnection 1: concurrent requests each get their own session, and every one completes', async (t) => {
  const ca = await createTestCa();
  t.teardown(() => ca.dispose());
  const server = ca.issue('default', 'httpbin');
  const client = ca.issue('default', 'productpage');
  const sessions = new Set<http2.ServerHttp2Session>();
  const h2 = http2.createSecureServer({
    key: server.privateKeyPem,
    cert: server.certChainPem,
    ca: server.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  });
  h2.on('session', (s) => sessions.add(s));
  // Slow answers, so that the requests overlap as the circuit-breaking task's load does.
  h2.on('stream', (stream) => setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), 200));
  await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => h2.close(() => resolve())));
  const port = (h2.address() as AddressInfo).port;

  const pool = new H2SessionPool(() => client, createLogger('test'));
  t.teardown(() => pool.close());
  const target = { host: HOST, port, sni: 'outbound_.8000_._.httpbin.default.svc.cluster.local', alpn: ['h2'] };
  const calls = Array.from({ length: 3 }, (_, i) =>
    pool.request(target, {
      method: 'GET',
      path: `/${i}`,
      headers: { ':method': 'GET', ':path': `/${i}`, ':authority': 'httpbin', ':scheme': 'https' },
      body: undefined,
      connectTimeoutMs: 5000,
      maxRequestsPerConnection: 1,
    }).response,
  );
  const results = await Promise.all(calls);
  const statuses = results.map((r) => (r.ok ? r.value.status : `${r.errors}`));
  t.deepEqual(statuses, [200, 200, 200]);
  for (const r of results) if (r.ok) r.value.body.resume();
  t.is(sessions.size, 3, 'one session per request');
  // Each session closes by itself once its one stream ended.
  const deadline = Date.now() + 10_000;
  while (pool.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.is(pool.size, 0);
});

test('retire() while a session is still connecting: the request queued on it completes (two rotations in a row)', async (t) => {
  const ca = await createTestCa();
  t.teardown(() => ca.dispose());
  const server = ca.issue('default', 'httpbin');
  const h2 = http2.createSecureServer({
    key: server.privateKeyPem,
    cert: server.certChainPem,
    ca: server.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  });
  h2.on('stream', (stream) => stream.respond({ ':status': 200 }, { endStream: true }));
  await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => h2.close(() => resolve())));
  const port = (h2.address() as AddressInfo).port;
  let client = ca.issue('default', 'productpage');
  const pool = new H2SessionPool(() => client, createLogger('test'));
  t.teardown(() => pool.close());
  const target = { host: HOST, port, sni: 'outbound_.8000_._.httpbin.default.svc.cluster.local', alpn: ['h2'] };
  const get = () =>
    pool.request(target, {
      method: 'GET',
      path: '/',
      headers: { ':method': 'GET', ':path': '/', ':authority': 'httpbin', ':scheme': 'https' },
      body: undefined,
      connectTimeoutMs: 5000,
    }).response;
  const first = get();
  // The session has not connected yet (same tick): a rotation retires it.
  client = ca.issue('default', 'productpage');
  pool.retire();
  const second = get();
  const results = await Promise.all([first, second]);
  t.deepEqual(
    results.map((r) => (r.ok ? r.value.status : `${r.errors}`)),
    [200, 200],
  );
  for (const r of results) if (r.ok) r.value.body.resume();
});

test('retire() right after a request on a connected session: the request completes (our GOAWAY never overtakes its HEADERS)', async (t) => {
  const ca = await createTestCa();
  t.teardown(() => ca.dispose());
  const server = ca.issue('default', 'httpbin');
  const h2 = http2.createSecureServer({
    key: server.privateKeyPem,
    cert: server.certChainPem,
    ca: server.rootsPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
  });
  h2.on('stream', (stream) => stream.respond({ ':status': 200 }, { endStream: true }));
  await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => h2.close(() => resolve())));
  const port = (h2.address() as AddressInfo).port;
  const pool = new H2SessionPool(() => ca.issue('default', 'productpage'), createLogger('test'));
  t.teardown(() => pool.close());
  const target = { host: HOST, port, sni: 'outbound_.8000_._.httpbin.default.svc.cluster.local', alpn: ['h2'] };
  const get = () =>
    pool.request(target, {
      method: 'GET',
      path: '/',
      headers: { ':method': 'GET', ':path': '/', ':authority': 'httpbin', ':scheme': 'https' },
      body: undefined,
      connectTimeoutMs: 5000,
    }).response;
  const statuses: (number | string)[] = [];
  for (let i = 0; i < 20; i++) {
    // Warm: the session is connected; then a request and a rotation in the same tick.
    const warm = await get();
    if (warm.ok) warm.value.body.resume();
    const pending = get();
    pool.retire();
    const r = await pending;
    statuses.push(r.ok ? r.value.status : `${r.errors}`);
    if (r.ok) r.value.body.resume();
  }
  t.deepEqual(statuses, Array(20).fill(200));
});
