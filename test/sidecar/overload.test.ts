import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { OverloadOptionsError, startOverloadManager, validateOverloadOptions } from '../../src/dataplane/overload/index.ts';
import { closeHttp, httpRequest, listenOn } from './support-config.ts';

/**
 * Heap-pressure shedding (issue 8 §4 Overload, §5 case 32). The table checks option validation
 * and the manager's thresholds on injected readings; the last test runs a real sidecar in a
 * child process with a small `--max-old-space-size` (test/support/overload-child.ts at
 * 127.185.5.1), grows its heap through its test-only knob, and drives requests to an app here
 * at 127.185.5.2: 503 `OL` before the process dies, and service again once the heap is freed.
 */
const SIDECAR = '127.185.5.1';
const APP = '127.185.5.2';
const APP_PORT = 9080;
const MB = 2 ** 20;

const VALIDATION = [
  { name: 'defaults: 95 % and 98 % of V8 heap_size_limit', input: undefined, error: undefined },
  { name: 'ratios in (0, 1]', input: { stopAcceptingRequestsRatio: 0.5, stopAcceptingConnectionsRatio: 1 }, error: undefined },
  { name: 'a ratio of 0', input: { stopAcceptingRequestsRatio: 0 }, error: 'invalid overload.stopAcceptingRequestsRatio: must be in (0, 1]' },
  { name: 'a ratio above 1', input: { stopAcceptingConnectionsRatio: 1.5 }, error: 'invalid overload.stopAcceptingConnectionsRatio: must be in (0, 1]' },
  {
    name: 'connections below requests',
    input: { stopAcceptingRequestsRatio: 0.9, stopAcceptingConnectionsRatio: 0.8 },
    error: 'invalid overload.stopAcceptingConnectionsRatio: below overload.stopAcceptingRequestsRatio',
  },
  { name: 'a fractional refresh interval', input: { refreshIntervalMs: 0.5 }, error: 'invalid overload.refreshIntervalMs' },
  { name: 'an unknown field', input: { heapPercent: 3 }, error: 'overload.heapPercent: is not supported' },
] as const;

for (const row of VALIDATION) {
  test(`validateOverloadOptions: ${row.name}`, (t) => {
    const input = row.input as Parameters<typeof validateOverloadOptions>[0];
    if (row.error === undefined) {
      const o = validateOverloadOptions(input, 1000 * MB);
      t.true(Object.isFrozen(o));
      t.is(o.maxHeapSizeBytes, 1000 * MB);
      t.true(o.stopAcceptingConnectionsRatio >= o.stopAcceptingRequestsRatio);
    } else {
      const e = t.throws(() => validateOverloadOptions(input, 1000 * MB), { instanceOf: OverloadOptionsError });
      t.is(e?.message, row.error);
      t.is(e?.code, 'OVERLOAD_OPTIONS_INVALID');
    }
  });
}

const THRESHOLDS = [
  { name: 'below both thresholds', usedMb: 50, shed: false, refuse: false },
  { name: 'at the request threshold', usedMb: 80, shed: true, refuse: false },
  { name: 'between the thresholds', usedMb: 85, shed: true, refuse: false },
  { name: 'at the connection threshold', usedMb: 90, shed: true, refuse: true },
] as const;

for (const row of THRESHOLDS) {
  test(`overload manager on a 100 MB heap, 80 % / 90 %: ${row.name}`, (t) => {
    const m = startOverloadManager(validateOverloadOptions({ maxHeapSizeBytes: 100 * MB, stopAcceptingRequestsRatio: 0.8, stopAcceptingConnectionsRatio: 0.9 }), () => row.usedMb * MB);
    try {
      t.is(m.shedRequests(), row.shed);
      t.is(m.refuseConnections(), row.refuse);
      t.is(m.pressure(), row.usedMb / 100);
    } finally {
      m.stop();
    }
  });
}

let appRequests = 0;
const app = http.createServer((req, res) => {
  appRequests += 1;
  req.resume();
  req.on('end', () => res.end('ok'));
});

test.before(async () => {
  await listenOn(app, APP, APP_PORT);
});
test.after.always(async () => {
  await closeHttp(app);
});

/** The child sidecar, its stdout read line by line. */
function startChild(overload: Record<string, number>): { child: ChildProcessWithoutNullStreams; next: () => Promise<string> } {
  const script = fileURLToPath(new URL('../support/overload-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--max-old-space-size=128', '--expose-gc', '--import', 'tsx', script, SIDECAR, `${APP}:${APP_PORT}`, JSON.stringify(overload)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => {
    buf += c;
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  child.stderr.resume();
  child.once('exit', () => {
    for (const w of waiters.splice(0)) w('exited');
  });
  const next = (): Promise<string> => {
    const l = lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve('exited');
    return new Promise((r) => waiters.push(r));
  };
  return { child, next };
}

async function metric(name: string): Promise<number> {
  const reply = await httpRequest({ host: SIDECAR, port: 15090 }, { path: '/stats/prometheus' });
  const line = reply.body.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

test.serial('a sidecar under heap pressure sheds new requests with 503 OL and stays alive; service returns once the heap is freed (case 32)', async (t) => {
  // The maximum is the 128 MB old space (V8's heap_size_limit adds young-generation room, which
  // differs between Node 20 and 24): shedding at 65 % (~83 MB) and refusing connections at 80 %
  // (~102 MB) both come before V8's own limit.
  const { child, next } = startChild({ maxHeapSizeBytes: 128 * MB, stopAcceptingRequestsRatio: 0.65, stopAcceptingConnectionsRatio: 0.8, refreshIntervalMs: 50 });
  const pid = child.pid;
  t.teardown(() => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  });
  t.is(await next(), 'ready');
  const target = { host: SIDECAR, port: 15001 };
  t.is((await httpRequest(target, { headers: { host: 'app' } })).status, 200);
  t.is(await metric('envoy_overload_envoy_overload_actions_stop_accepting_requests_active'), 0);

  let shed: Awaited<ReturnType<typeof httpRequest>> | undefined;
  let grown = 0;
  // At most 80 MB more, 4 MB a step: the child must start shedding before that.
  for (; grown < 80 && !shed; grown += 4) {
    child.stdin.write('grow 4\n');
    t.regex(await next(), /^heap \d+$/);
    const seen = appRequests;
    const reply = await httpRequest(target, { headers: { host: 'app' } });
    if (reply.status === 503) {
      shed = reply;
      t.is(appRequests, seen, 'a shed request never reaches the app');
    } else t.is(reply.status, 200);
  }
  t.truthy(shed, `shedding started within ${grown} MB`);
  t.is(shed?.headers['x-meshfed-response-flags'], 'OL');
  t.is(shed?.headers['x-envoy-overloaded'], 'true');
  t.is(child.exitCode, null, 'the sidecar is still alive');
  t.is(child.signalCode, null);
  t.is(await metric('envoy_overload_envoy_overload_actions_stop_accepting_requests_active'), 1);
  t.true((await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_overload_close')) >= 1);
  t.true((await metric('envoy_overload_envoy_resource_monitors_fixed_heap_pressure')) >= 65);
  t.log(`shedding after ${grown} MB retained`);

  // Further up, new connections are closed at accept (no reply at all).
  let refused = false;
  for (let more = 0; more < 40 && !refused; more += 4) {
    child.stdin.write('grow 4\n');
    t.regex(await next(), /^heap \d+$/);
    refused = await httpRequest(target, { headers: { host: 'app' } }).then(
      (r) => {
        t.is(r.status, 503);
        return false;
      },
      () => true,
    );
  }
  t.true(refused, 'new connections refused');
  t.is(await metric('envoy_overload_envoy_overload_actions_stop_accepting_connections_active'), 1);
  t.true((await metric('envoy_listener_0_0_0_0_15001_downstream_cx_overload_reject')) >= 1);
  t.is(child.exitCode, null, 'the sidecar is still alive');

  child.stdin.write('free\n');
  t.regex(await next(), /^heap \d+$/);
  t.is((await httpRequest(target, { headers: { host: 'app' } })).status, 200, 'served again once the heap is freed');
  t.is(await metric('envoy_overload_envoy_overload_actions_stop_accepting_requests_active'), 0);
  child.stdin.end();
  await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  t.is(child.exitCode, 0);
});
