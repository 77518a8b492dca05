import { readdirSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import test from 'ava';
import { DEFAULT_LISTENER_BOUNDS, validateListenerBounds } from '../../src/sidecar/index.ts';
import { connectRawH2, FLAG, FRAME, frame, getRequestBlock, headerBlock, ping, rstStream, writeOrGone } from '../support/h2-frames.ts';
import { closeHttp, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Listener bounds (issue 8 §4; attack cases 9, 10, 11, 12, 31) on a real sidecar pair: the app's
 * outbound listener :15001 (HTTP/1.1 and h2c) at 127.162.1.1, the inbound sidecar and a counting
 * app at 127.162.1.2. Short timers come in through `bounds`. Tests run serially: they share the
 * listener's connection limit.
 */
const CLIENT = '127.162.1.1';
const SERVER = '127.162.1.2';
const APP_PORT = 9080;
const AUTHORITY = `echo:${APP_PORT}`;
const MAX_CONNECTIONS = 3;
const MAX_STREAMS = 7;

let appRequests = 0;
const app = http.createServer((req, res) => {
  appRequests += 1;
  req.resume();
  req.on('end', () => res.end('ok'));
});
let pair: SidecarPair;

test.before(async () => {
  await listenOn(app, SERVER, APP_PORT);
  pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'echo',
    appPort: APP_PORT,
    bounds: {
      headersTimeoutMs: 200,
      requestTimeoutMs: 250,
      timeoutCheckIntervalMs: 50,
      streamIdleTimeoutMs: 600,
      maxConnections: MAX_CONNECTIONS,
      maxConcurrentStreams: MAX_STREAMS,
      maxSessionMemoryMb: 1,
    },
    // The inbound sidecar keeps Envoy's defaults but for a stream idle timeout above the
    // client's request timeout (so the slow-body test sees the outbound's 408, not a reset).
    serverBounds: { streamIdleTimeoutMs: 2000 },
  });
  // Warm the pooled upstream connections, so descriptor counts compare like with like.
  await h2Get();
});

test.after.always(async () => {
  await pair?.close();
  await closeHttp(app);
});

const validation = [
  { name: 'no input → the defaults', input: undefined, error: undefined },
  { name: 'a short idle timeout', input: { idleTimeoutMs: 5 }, error: undefined },
  { name: 'requestTimeoutMs 0 (none)', input: { requestTimeoutMs: 0 }, error: undefined },
  { name: 'idleTimeoutMs 0', input: { idleTimeoutMs: 0 }, error: 'invalid bounds.idleTimeoutMs' },
  { name: 'headersTimeoutMs 0 (would disable the header bound)', input: { headersTimeoutMs: 0 }, error: 'invalid bounds.headersTimeoutMs' },
  { name: 'a fractional maxConnections', input: { maxConnections: 1.5 }, error: 'invalid bounds.maxConnections' },
  { name: 'headers timeout above the request timeout', input: { headersTimeoutMs: 500, requestTimeoutMs: 100 }, error: 'invalid bounds.headersTimeoutMs: above bounds.requestTimeoutMs' },
  { name: 'an unknown field', input: { maxBananas: 3 }, error: 'bounds.maxBananas: is not supported' },
] as const;

for (const row of validation) {
  test(`validateListenerBounds: ${row.name}`, (t) => {
    const run = (): unknown => validateListenerBounds(row.input as Parameters<typeof validateListenerBounds>[0]);
    if (row.error === undefined) {
      const b = validateListenerBounds(row.input as Parameters<typeof validateListenerBounds>[0]);
      t.true(Object.isFrozen(b));
      t.is(b.streamIdleTimeoutMs, DEFAULT_LISTENER_BOUNDS.streamIdleTimeoutMs);
    } else {
      t.is(t.throws(run)?.message, row.error);
    }
  });
}

test('defaults follow Envoy: 1 h idle timeout, 5 min stream idle timeout, 500-stream premature reset budget', (t) => {
  t.is(DEFAULT_LISTENER_BOUNDS.idleTimeoutMs, 3_600_000);
  t.is(DEFAULT_LISTENER_BOUNDS.streamIdleTimeoutMs, 300_000);
  t.is(DEFAULT_LISTENER_BOUNDS.prematureResetTotalStreamCount, 500);
  t.true(DEFAULT_LISTENER_BOUNDS.headersTimeoutMs > 0);
});

async function metric(name: string): Promise<number> {
  const text = await pair.client.telemetry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Connects, writes `bytes`, and collects what comes back until the server closes. */
function rawExchange(bytes: string): Promise<{ socket: net.Socket; reply: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: CLIENT, port: pair.outbound.port });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      const reply = new Promise<string>((r) => socket.once('close', () => r(Buffer.concat(chunks).toString('latin1'))));
      if (bytes) socket.write(bytes);
      resolve({ socket, reply });
    });
  });
}

/** Waits (bounded) until the process holds at most `fds` descriptors; returns the last count. */
async function fdsBackTo(fds: number): Promise<number> {
  for (let i = 0; i < 100 && openFds() > fds; i++) await new Promise((r) => setTimeout(r, 20));
  return openFds();
}

const slow = [
  { name: 'slowloris headers (case 12)', bytes: `GET / HTTP/1.1\r\nHost: ${AUTHORITY}\r\nX-Slow: a`, reachesApp: false },
  { name: 'a request line only', bytes: 'GET / HTTP/1.1\r\n', reachesApp: false },
  { name: 'a slow body (case 12)', bytes: `POST / HTTP/1.1\r\nHost: ${AUTHORITY}\r\nContent-Length: 100\r\n\r\n0123456789`, reachesApp: true },
] as const;

for (const row of slow) {
  test.serial(`${row.name} → 408 and close at the timeout; file descriptors recover`, async (t) => {
    const before = openFds();
    const seen = appRequests;
    const timeouts = await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_timeout');
    const { reply } = await rawExchange(row.bytes);
    const text = await reply;
    t.regex(text, /^HTTP\/1\.1 408 /);
    if (!row.reachesApp) t.is(appRequests, seen, 'the app saw nothing');
    t.is(await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_timeout'), timeouts + 1);
    t.true((await fdsBackTo(before)) <= before, 'no descriptor left behind');
  });
}

/** One keep-alive GET on an open socket; resolves with the status line. */
function getOn(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (c: Buffer): void => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n\r\nok')) {
        socket.off('data', onData);
        resolve(buf.split('\r\n')[0] ?? '');
      }
    };
    socket.on('data', onData);
    socket.write(`GET / HTTP/1.1\r\nHost: ${AUTHORITY}\r\n\r\n`);
  });
}

function connect(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: CLIENT, port: pair.outbound.port }, () => resolve(s));
    s.once('error', reject);
  });
}

test.serial('max connections per listener: the next connection is refused, open ones keep working (case 31)', async (t) => {
  const overflows = await metric('envoy_listener_0_0_0_0_15001_downstream_cx_overflow');
  const open = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => connect()));
  try {
    for (const s of open) t.is(await getOn(s), 'HTTP/1.1 200 OK');
    const { reply } = await rawExchange(`GET / HTTP/1.1\r\nHost: ${AUTHORITY}\r\n\r\n`);
    t.is(await reply, '', 'refused: closed without a reply');
    for (const s of open) t.is(await getOn(s), 'HTTP/1.1 200 OK', 'existing connections unaffected');
    t.is(await metric('envoy_listener_0_0_0_0_15001_downstream_cx_overflow'), overflows + 1);
  } finally {
    for (const s of open) s.destroy();
  }
  // Let the server see the closes before the next test connects.
  await new Promise((r) => setTimeout(r, 50));
});

test.serial('h2c sessions advertise SETTINGS_MAX_CONCURRENT_STREAMS', async (t) => {
  const client = http2.connect(`http://${CLIENT}:${pair.outbound.port}`);
  client.on('error', () => {});
  try {
    const settings = await new Promise<http2.Settings>((r) => client.once('remoteSettings', r));
    t.is(settings.maxConcurrentStreams, MAX_STREAMS);
  } finally {
    client.destroy();
  }
});

test.serial('an idle h2 stream is reset at the stream idle timeout', async (t) => {
  const client = http2.connect(`http://${CLIENT}:${pair.outbound.port}`);
  client.on('error', () => {});
  const idle = await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_idle_timeout');
  try {
    const req = client.request({ ':method': 'POST', ':path': '/', ':authority': AUTHORITY });
    req.on('error', () => {});
    req.on('response', () => {});
    req.write('partial body, never ended');
    await new Promise((r) => req.once('close', r));
    t.is(req.rstCode, http2.constants.NGHTTP2_CANCEL);
    t.is(await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_idle_timeout'), idle + 1);
  } finally {
    client.destroy();
  }
});

async function h2Get(): Promise<number | undefined> {
  const client = http2.connect(`http://${CLIENT}:${pair.outbound.port}`);
  client.on('error', () => {});
  try {
    return await new Promise<number | undefined>((resolve) => {
      const req = client.request({ ':path': '/', ':authority': AUTHORITY });
      req.on('response', (h) => resolve(Number(h[':status'])));
      req.on('error', () => resolve(undefined));
      req.on('close', () => resolve(undefined));
      req.resume();
      req.end();
    });
  } finally {
    client.destroy();
  }
}

test.serial('h2 rapid reset (1,000 HEADERS+RST_STREAM) → GOAWAY and close; other connections keep working (case 9)', async (t) => {
  const premature = await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_too_many_premature_resets');
  const conn = await connectRawH2(CLIENT, pair.outbound.port);
  try {
    const block = getRequestBlock(AUTHORITY);
    for (let batch = 0; batch < 10; batch++) {
      const frames: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const id = 1 + 2 * (batch * 100 + i);
        frames.push(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, block), rstStream(id));
      }
      if (!(await writeOrGone(conn.socket, Buffer.concat(frames)))) break;
    }
    const goaway = await conn.waitFor(FRAME.GOAWAY);
    t.is(goaway?.payload.readUInt32BE(4), http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 'GOAWAY ENHANCE_YOUR_CALM');
    await conn.closed;
    t.is(await metric('envoy_http_outbound_0_0_0_0_15001_downstream_rq_too_many_premature_resets'), premature + 1);
    t.is(await h2Get(), 200, 'a new connection is served');
  } finally {
    conn.socket.destroy();
  }
});

test.serial('CONTINUATION flood → the connection is closed within a frame budget (case 10)', async (t) => {
  const conn = await connectRawH2(CLIENT, pair.outbound.port);
  try {
    const first = frame(FRAME.HEADERS, 0, 1, getRequestBlock(AUTHORITY));
    const filler = frame(FRAME.CONTINUATION, 0, 1, headerBlock([['x-flood', 'a'.repeat(100)]]));
    let writing = await writeOrGone(conn.socket, first);
    // At most 20,000 CONTINUATION frames (~2.3 MB), in batches.
    for (let batch = 0; writing && batch < 200; batch++) writing = await writeOrGone(conn.socket, Buffer.concat(Array.from({ length: 100 }, () => filler)));
    await conn.closed;
    t.false(writing && conn.frames.every((f) => f.type !== FRAME.GOAWAY), 'closed (or GOAWAY) before the budget ran out');
    t.is(await h2Get(), 200, 'a new connection is served');
  } finally {
    conn.socket.destroy();
  }
});

test.serial('PING flood from a peer that never reads → closed at the outbound queue cap (case 11)', async (t) => {
  const errors = await metric('envoy_http_outbound_0_0_0_0_15001_http2_session_error');
  const conn = await connectRawH2(CLIENT, pair.outbound.port, { read: false });
  try {
    let writing = true;
    let sent = 0;
    // At most 1,000,000 PINGs (17 MB), in batches of 1,000; the kernel's socket buffers on
    // loopback take a few MB of unread PING ACKs before the server's own queue fills.
    for (let batch = 0; writing && batch < 1000; batch++) {
      writing = await writeOrGone(conn.socket, Buffer.concat(Array.from({ length: 1000 }, (_, i) => ping(batch * 1000 + i))));
      if (writing) sent += 1000;
    }
    t.false(writing, `closed before the budget ran out (${sent} PINGs written)`);
    t.is(await metric('envoy_http_outbound_0_0_0_0_15001_http2_session_error'), errors + 1);
    t.is(await h2Get(), 200, 'a new connection is served');
  } finally {
    conn.socket.destroy();
  }
});
