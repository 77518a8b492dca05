import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createJwksResolver } from '../../src/pilot/config/jwks-resolver.ts';

/**
 * Pilot's JWKS resolver against a real HTTP server on 127.180.3.1: a set is fetched, changed sets
 * are refetched on the refresh timer, a failing URI keeps its last good set, reports the error and
 * is counted, and a URI no longer wanted is forgotten. Short timers; each test owns its server.
 */

async function jwksServer(t: import('ava').ExecutionContext, reply: () => { status: number; body: string }): Promise<string> {
  const server = http.createServer((_req, res) => {
    const r = reply();
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.180.3.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.180.3.1:${(server.address() as AddressInfo).port}/jwks.json`;
}

function nextChange(r: ReturnType<typeof createJwksResolver>): Promise<void> {
  return new Promise((resolve) => r.onChange(resolve));
}

test('fetches a set, refreshes it when it changes, forgets an unwanted URI', async (t) => {
  let body = '{"keys":[{"kid":"a"}]}';
  const uri = await jwksServer(t, () => ({ status: 200, body }));
  const fetched: boolean[] = [];
  const r = createJwksResolver({ refreshMs: 30, onFetch: (ok) => fetched.push(ok) });
  t.teardown(() => r.close());
  const first = nextChange(r);
  r.want([uri]);
  t.is(r.current().get(uri), undefined, 'nothing before the first fetch');
  await first;
  t.is(r.current().get(uri), '{"keys":[{"kid":"a"}]}');
  const same = r.current();
  body = '{"keys":[{"kid":"b"}]}';
  await nextChange(r);
  t.not(r.current(), same, 'a changed set is a new map');
  t.is(r.current().get(uri), '{"keys":[{"kid":"b"}]}');
  t.true(fetched.length >= 2 && fetched.every((ok) => ok));
  r.want([]);
  t.false(r.current().has(uri));
});

test('a failing fetch keeps the last good set, is reported and counted', async (t) => {
  let status = 200;
  const uri = await jwksServer(t, () => ({ status, body: status === 200 ? '{"keys":[]}' : 'oops' }));
  const fetched: boolean[] = [];
  const r = createJwksResolver({ refreshMs: 20, retryMs: 20, onFetch: (ok) => fetched.push(ok) });
  t.teardown(() => r.close());
  const first = nextChange(r);
  r.want([uri]);
  await first;
  status = 503;
  while (!fetched.includes(false)) await new Promise((resolve) => setTimeout(resolve, 10));
  t.is(r.current().get(uri), '{"keys":[]}', 'the last good set stays');
  t.is(r.errors().get(uri), 'HTTP 503');
});

test('a URI that never answers with a key set has none, and says why', async (t) => {
  const uri = await jwksServer(t, () => ({ status: 200, body: '{"not":"a set"}' }));
  const fetched: boolean[] = [];
  const r = createJwksResolver({ retryMs: 1000, onFetch: (ok) => fetched.push(ok) });
  t.teardown(() => r.close());
  r.want([uri]);
  while (fetched.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(fetched, [false]);
  t.is(r.current().get(uri), undefined);
  t.is(r.errors().get(uri), 'not a JSON Web Key Set (no keys array)');
});
