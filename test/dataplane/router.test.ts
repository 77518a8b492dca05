import { PassThrough, Readable } from 'node:stream';
import test from 'ava';
import { type Attempt, type AttemptResponse, forward, type RouterUpstream } from '../../src/dataplane/http/router.ts';
import { ReplayableBody } from '../../src/dataplane/http/replayable-body.ts';
import type { RetryPolicyConfig, RouteConfig } from '../../src/xds/config-types.ts';
import { match } from '../sidecar/support-config.ts';

/**
 * The router against a scripted upstream: each attempt answers with the next scripted outcome.
 * No sockets: what is under test is the retry, timeout, mirror and release logic.
 */
/** `grpc`: a trailers-only gRPC answer (HTTP 200, `grpc-status` in the headers), as a gRPC server gives an error. */
type Script = ({ status: number } | { grpc: number } | { fail: 'UF' | 'UR' } | 'hang')[];

function upstream(script: Script, hosts = ['a', 'b', 'c']) {
  const log = { sent: [] as { host: string; path: string; authority: string; body?: string }[], released: 0, picked: 0, reported: [] as string[] };
  let next = 0;
  let pick = 0;
  const up: RouterUpstream<string, AttemptResponse> = {
    random: () => 0,
    pick(_cluster, tried) {
      log.picked++;
      let host = hosts[pick++ % hosts.length] ?? 'a';
      if (tried.includes(host)) host = hosts[pick++ % hosts.length] ?? 'a';
      return { ok: true, target: host, release: () => void log.released++ };
    },
    report(target, outcome) {
      log.reported.push(`${target}:${outcome.kind}`);
    },
    send(target, req): Attempt<AttemptResponse> {
      const entry: { host: string; path: string; authority: string; body?: string } = { host: target, path: req.path, authority: req.authority };
      log.sent.push(entry);
      if (req.body) {
        const chunks: Buffer[] = [];
        req.body.on('data', (c: Buffer) => chunks.push(c));
        req.body.on('end', () => {
          entry.body = Buffer.concat(chunks).toString();
        });
      }
      const step = script[next++] ?? { status: 200 };
      if (step === 'hang') return { response: new Promise(() => {}), abort: () => {} };
      if ('fail' in step) return { response: Promise.resolve({ ok: false, flag: step.fail, message: step.fail }), abort: () => {} };
      if ('grpc' in step) {
        const headers = { 'content-type': 'application/grpc', 'grpc-status': String(step.grpc) };
        return { response: Promise.resolve({ ok: true, response: { status: 200, headers, body: Readable.from([]) } }), abort: () => {} };
      }
      return { response: Promise.resolve({ ok: true, response: { status: step.status, headers: {}, body: Readable.from([]) } }), abort: () => {} };
    },
  };
  return { up, log };
}

const retry = (over: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig => ({
  retryOn: new Set(['5xx', 'connect-failure']),
  numRetries: 2,
  retriableStatusCodes: [],
  avoidPreviousHosts: true,
  hostSelectionRetryMaxAttempts: 3,
  ...over,
});
const grpcRetry = (...on: string[]): RetryPolicyConfig => retry({ retryOn: new Set(on) });
const route = (over: Partial<RouteConfig> = {}): RouteConfig => ({ name: 'r', match: match(), clusters: [{ name: 'c', weight: 1 }], mirrors: [], perFilter: {}, ...over });
const cluster = { name: 'c', weight: 1 };
const req = (body?: string) => ({ method: 'POST', path: '/p', authority: 'svc:80', headers: {}, body: body === undefined ? undefined : Readable.from([Buffer.from(body)]) });
const signal = { aborted: false, onAbort: () => {} };

const rows: [title: string, policy: RetryPolicyConfig | undefined, script: Script, expected: { status: number | string; attempts: number; flags: string[] }][] = [
  ['no policy: one try, the 503 is relayed', undefined, [{ status: 503 }], { status: 503, attempts: 1, flags: [] }],
  ['5xx retried until a 200', retry(), [{ status: 503 }, { status: 502 }, { status: 200 }], { status: 200, attempts: 3, flags: [] }],
  ['retries exhausted: the last answer with URX', retry(), [{ status: 503 }, { status: 503 }, { status: 503 }], { status: 503, attempts: 3, flags: ['URX'] }],
  ['a 404 is not retriable', retry(), [{ status: 404 }], { status: 404, attempts: 1, flags: [] }],
  ['connect failures retried, then UF with URX', retry(), [{ fail: 'UF' }, { fail: 'UF' }, { fail: 'UF' }], { status: 'UF', attempts: 3, flags: ['URX'] }],
  ['retriable-status-codes only', retry({ retryOn: new Set(['retriable-status-codes']), retriableStatusCodes: [409] }), [{ status: 409 }, { status: 503 }], { status: 503, attempts: 2, flags: [] }],
  // gRPC's conditions (x-envoy-retry-grpc-on): the grpc-status of a 200 decides.
  ['gRPC unavailable (14) retried until OK', grpcRetry('unavailable'), [{ grpc: 14 }, { grpc: 0 }], { status: 200, attempts: 2, flags: [] }],
  ['gRPC cancelled (1) retried', grpcRetry('cancelled'), [{ grpc: 1 }, { grpc: 0 }], { status: 200, attempts: 2, flags: [] }],
  ['gRPC deadline-exceeded (4) retried', grpcRetry('deadline-exceeded'), [{ grpc: 4 }, { grpc: 0 }], { status: 200, attempts: 2, flags: [] }],
  ['gRPC resource-exhausted (8) retried', grpcRetry('resource-exhausted'), [{ grpc: 8 }, { grpc: 0 }], { status: 200, attempts: 2, flags: [] }],
  ['gRPC internal (13) retried, exhausted with URX', grpcRetry('internal'), [{ grpc: 13 }, { grpc: 13 }, { grpc: 13 }], { status: 200, attempts: 3, flags: ['URX'] }],
  ['gRPC unavailable is not retried under cancelled only', grpcRetry('cancelled'), [{ grpc: 14 }], { status: 200, attempts: 1, flags: [] }],
  ['gRPC NOT_FOUND (5) matches no condition', grpcRetry('cancelled', 'deadline-exceeded', 'resource-exhausted', 'internal', 'unavailable'), [{ grpc: 5 }], { status: 200, attempts: 1, flags: [] }],
  ['5xx alone does not retry a gRPC error (its HTTP status is 200)', retry({ retryOn: new Set(['5xx']) }), [{ grpc: 14 }], { status: 200, attempts: 1, flags: [] }],
];

for (const [title, policy, script, expected] of rows) {
  test(`router: ${title}`, async (t) => {
    const { up, log } = upstream(script);
    const r = await forward(route(policy ? { retry: policy } : {}), cluster, req(), 5000, up, signal);
    t.is(r.ok ? r.response.status : r.reply.flag, expected.status);
    t.is(r.attempts, expected.attempts);
    t.deepEqual(r.flags, expected.flags);
    if (r.ok) r.response.body.destroy();
    await new Promise((res) => setImmediate(res));
    t.is(log.released, log.picked, 'every picked host is released');
    t.is(log.reported.length, expected.attempts, 'every attempt is reported to the cluster');
  });
}

test('router: previous_priorities with update_frequency 2 excludes the first two attempts from the third and fourth', async (t) => {
  const excluded: string[][] = [];
  const { up } = upstream([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 200 }], ['a', 'b', 'c', 'd']);
  const pick = up.pick.bind(up);
  up.pick = (c, tried, retry) => {
    excluded.push(retry === undefined ? ['first'] : [...retry.excludePrioritiesOf]);
    return pick(c, tried, retry);
  };
  const policy = retry({ numRetries: 3, previousPrioritiesUpdateFrequency: 2 });
  const r = await forward(route({ retry: policy }), cluster, req(), 5000, up, signal);
  t.true(r.ok);
  if (r.ok) r.response.body.destroy();
  t.deepEqual(excluded, [['first'], [], ['a', 'b'], ['a', 'b']]);
  const plain: (readonly string[] | undefined)[] = [];
  const second = upstream([{ status: 503 }, { status: 200 }]);
  const pick2 = second.up.pick.bind(second.up);
  second.up.pick = (c, tried, retry) => {
    plain.push(retry?.excludePrioritiesOf);
    return pick2(c, tried, retry);
  };
  const r2 = await forward(route({ retry: retry() }), cluster, req(), 5000, second.up, signal);
  if (r2.ok) r2.response.body.destroy();
  t.deepEqual(plain, [undefined, []], 'without the policy a retry is marked as one but excludes nothing');
});

test('router: retries avoid the hosts already tried (previous_hosts)', async (t) => {
  const { up, log } = upstream([{ status: 503 }, { status: 503 }, { status: 200 }]);
  await forward(route({ retry: retry() }), cluster, req(), 5000, up, signal);
  t.deepEqual(log.sent.map((s) => s.host), ['a', 'b', 'c']);
});

test('router: a per-try timeout is retried, then the route answers 504 UT', async (t) => {
  const { up } = upstream(['hang', 'hang', 'hang']);
  const r = await forward(route({ retry: retry({ perTryTimeoutMs: 20 }) }), cluster, req(), 5000, up, signal);
  t.false(r.ok);
  if (!r.ok) t.is(r.reply.status, 504);
  t.is(r.attempts, 3);
});

test('router: the route timeout bounds every attempt together', async (t) => {
  const { up } = upstream(['hang', 'hang']);
  const r = await forward(route({ retry: retry({ perTryTimeoutMs: 1000 }) }), cluster, req(), 50, up, signal);
  t.false(r.ok);
  if (!r.ok) t.deepEqual([r.reply.status, r.reply.flag], [504, 'UT']);
  t.is(r.attempts, 1);
});

test('router: a retried request sends its whole body again', async (t) => {
  const { up, log } = upstream([{ status: 503 }, { status: 200 }]);
  await forward(route({ retry: retry() }), cluster, req('hello body'), 5000, up, signal);
  await new Promise((res) => setTimeout(res, 20));
  t.deepEqual(log.sent.map((s) => s.body), ['hello body', 'hello body']);
});

test('router: rewrites and mirrors — the mirror gets the -shadow authority and the same body', async (t) => {
  const { up, log } = upstream([{ status: 200 }, { status: 200 }]);
  const r = await forward(
    route({ match: match({ prefix: '/p' }), rewrite: { prefix: '/q', host: 'backend:80' }, mirrors: [{ cluster: 'm', perMillion: 1_000_000 }] }),
    cluster,
    req('copy me'),
    5000,
    up,
    signal,
  );
  t.true(r.ok);
  await new Promise((res) => setTimeout(res, 20));
  t.deepEqual(
    log.sent.map((s) => [s.authority, s.path, s.body]),
    [
      ['backend-shadow:80', '/q', 'copy me'],
      ['backend:80', '/q', 'copy me'],
    ],
  );
});

test('replayable body: a slow reader pauses the source instead of buffering it all', async (t) => {
  const source = new PassThrough();
  const body = new ReplayableBody(source, 16);
  const reader = body.reader();
  if (!reader) return t.fail('no reader');
  const big = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; i < 8; i++) source.write(big);
  await new Promise((res) => setImmediate(res));
  t.true(source.isPaused(), 'the source waits for the reader');
  t.false(body.replayable, 'past its limit the body cannot be replayed');
  t.is(body.reader(), undefined);
  reader.resume();
  source.end();
  await new Promise((res) => reader.once('end', res));
  t.true(reader.readableEnded, 'the reader got the whole body once it read');
});
