import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { closeHttp, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * HTTP/1.1 framing attacks (issue 8 §5 cases 1 and 2) on every HTTP/1.1 entry of a real sidecar
 * pair: the app's outbound listener :15001 at 127.185.1.1, and the inbound :15006 at 127.185.1.2
 * (its plaintext PERMISSIVE chain speaks HTTP/2 only, so HTTP/1.1 there is closed unread). The
 * app counts every request it sees: a refused request must reach nothing. Raw `net` sockets
 * send what Node's own client would refuse to.
 */
const CLIENT = '127.185.1.1';
const SERVER = '127.185.1.2';
const APP_PORT = 9080;
const HOST = `echo:${APP_PORT}`;

let appRequests = 0;
const app = http.createServer((req, res) => {
  appRequests += 1;
  req.resume();
  req.on('end', () => res.end('ok'));
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

/** Writes `bytes` on a fresh connection; resolves with all it read once the server closed it (or after 2 s, reported as not closed). */
function exchange(host: string, port: number, bytes: string): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, 2000);
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('connect', () => socket.write(bytes, 'latin1'));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ reply: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
  });
}

async function metric(name: string): Promise<number> {
  const text = await pair.client.telemetry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

const POST = `POST / HTTP/1.1\r\nHost: ${HOST}\r\n`;
const GET = `GET / HTTP/1.1\r\nHost: ${HOST}\r\n`;
const CHUNKED_BODY = '5\r\nhello\r\n0\r\n\r\n';

/** Each row is one request; `close` requests end with `Connection: close` where well formed. */
const ATTACKS = [
  { name: 'TE chunked + CL (case 1)', bytes: `${POST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}` },
  { name: 'CL + TE chunked (case 1)', bytes: `${POST}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE with a tab before chunked + CL (case 1)', bytes: `${POST}Transfer-Encoding:\tchunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE chunked with a trailing tab + CL (case 1)', bytes: `${POST}Transfer-Encoding: chunked\t\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE with a space before the colon (case 1)', bytes: `${POST}Transfer-Encoding : chunked\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE "chunked, identity" (chunked not final, case 1)', bytes: `${POST}Transfer-Encoding: chunked, identity\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE "identity, chunked" + CL (case 1)', bytes: `${POST}Transfer-Encoding: identity, chunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE chunked twice (case 1)', bytes: `${POST}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE "xchunked" (an unknown final coding, case 1)', bytes: `${POST}Transfer-Encoding: xchunked\r\n\r\n${CHUNKED_BODY}` },
  { name: 'TE "gzip, chunked" (a coding meshfed does not decode)', bytes: `${POST}Transfer-Encoding: gzip, chunked\r\n\r\n${CHUNKED_BODY}` },
  { name: 'two different Content-Lengths', bytes: `${POST}Content-Length: 1\r\nContent-Length: 2\r\n\r\nab` },
  { name: 'space before the colon (case 2)', bytes: `GET / HTTP/1.1\r\nHost : ${HOST}\r\n\r\n` },
  { name: 'bare CR in a value (case 2)', bytes: `${GET}X-A: a\rb\r\n\r\n` },
  { name: 'obs-fold (case 2)', bytes: `${GET}X-A: a\r\n b\r\n\r\n` },
  { name: 'NUL in a header value (case 2)', bytes: `${GET}X-A: a\0b\r\n\r\n` },
  { name: 'NUL in a header name (case 2)', bytes: `${GET}X-\0A: a\r\n\r\n` },
  { name: 'bare LF line endings', bytes: `GET / HTTP/1.1\nHost: ${HOST}\nX-A: a\n\n` },
] as const;

for (const row of ATTACKS) {
  test.serial(`:15001 ${row.name} → 400, connection closed, nothing upstream`, async (t) => {
    const seen = appRequests;
    const errors = await metric('envoy_http_outbound_0_0_0_0_15001_downstream_cx_protocol_error');
    const { reply, closed } = await exchange(CLIENT, pair.outbound.port, row.bytes);
    t.regex(reply, /^HTTP\/1\.1 400 /);
    t.true(closed, 'the connection is closed');
    t.is(appRequests, seen, 'the app saw nothing');
    t.is(await metric('envoy_http_outbound_0_0_0_0_15001_downstream_cx_protocol_error'), errors + 1);
  });
}

test.serial(':15001 a well-formed chunked POST is forwarded (the table above can fail)', async (t) => {
  const seen = appRequests;
  const { reply } = await exchange(CLIENT, pair.outbound.port, `${POST}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${CHUNKED_BODY}`);
  t.regex(reply, /^HTTP\/1\.1 200 /);
  t.is(appRequests, seen + 1);
});

const INBOUND = [
  { name: 'a well-formed HTTP/1.1 GET', bytes: `${GET}\r\n` },
  { name: 'TE chunked + CL', bytes: `${POST}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n${CHUNKED_BODY}` },
  { name: 'NUL in a header value', bytes: `${GET}X-A: a\0b\r\n\r\n` },
] as const;

for (const row of INBOUND) {
  test.serial(`:15006 plaintext ${row.name} → closed (HTTP/2 only), nothing upstream`, async (t) => {
    const seen = appRequests;
    const { reply, closed } = await exchange(SERVER, 15006, row.bytes);
    t.true(closed, 'the connection is closed');
    t.false(reply.startsWith('HTTP/1.1 2'), 'no HTTP/1.1 success');
    t.is(appRequests, seen, 'the app saw nothing');
  });
}
