import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import test from 'ava';
import { classifyPreface, H2_PREFACE } from '../../src/sidecar/outbound-h2c.ts';
import { closeHttp, listenOn } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * h2c from the app on the outbound listener (:15001), beside HTTP/1.1 on the same port, with the
 * real clients nghttp and curl. Block 127.65.1.0/24: outbound sidecar 127.65.1.1, inbound sidecar
 * and the HTTP/1.1 echo app 127.65.1.2.
 */
const CLIENT = '127.65.1.1';
const SERVER = '127.65.1.2';
const APP_PORT = 9080;

const app = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-app-saw-version': req.httpVersion });
    res.end(`echo ${req.method} ${req.url} host=${req.headers.host} body=${Buffer.concat(chunks).toString()}`);
  });
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

const classify = [
  { name: 'the whole preface', bytes: H2_PREFACE, expected: 'h2' },
  { name: 'the preface and a SETTINGS frame', bytes: Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]), expected: 'h2' },
  { name: 'a prefix of the preface', bytes: H2_PREFACE.subarray(0, 10), expected: 'more' },
  { name: 'one byte P', bytes: Buffer.from('P'), expected: 'more' },
  { name: 'an HTTP/1.1 POST', bytes: Buffer.from('POST / HTTP/1.1\r\n'), expected: 'http1' },
  { name: 'an HTTP/1.1 GET', bytes: Buffer.from('GET / HTTP/1.1\r\n'), expected: 'http1' },
  { name: 'a PRI request line with HTTP/1.1', bytes: Buffer.from('PRI * HTTP/1.1\r\n'), expected: 'http1' },
] as const;

for (const row of classify) {
  test(`classifyPreface: ${row.name} → ${row.expected}`, (t) => {
    t.is(classifyPreface(row.bytes), row.expected);
  });
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Each client exits on its own; the timeout kills it (by its PID) if it hangs.
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test.serial('nghttp (prior-knowledge h2c) crosses the mesh to the HTTP/1.1 app', async (t) => {
  const r = await run('nghttp', ['-v', '-H', ':authority: echo:9080', `http://${CLIENT}:15001/nghttp?q=1`]);
  t.is(r.code, 0, r.stderr + r.stdout);
  t.regex(r.stdout, /recv \(stream_id=\d+\) :status: 200/);
  t.regex(r.stdout, /x-app-saw-version: 1\.1/);
  t.regex(r.stdout, /echo GET \/nghttp\?q=1 host=echo:9080 body=/);
});

test.serial('nghttp posts a request body over h2c', async (t) => {
  const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
    const child = execFile('nghttp', ['-H', ':authority: echo', '-H', ':method: POST', '-d', '-', `http://${CLIENT}:15001/upload`], { timeout: 30_000 }, (err, stdout) =>
      resolve({ code: err ? 1 : 0, stdout }),
    );
    child.stdin?.end('hello over h2c');
  });
  t.is(r.code, 0);
  t.is(r.stdout, 'echo POST /upload host=echo body=hello over h2c');
});

test.serial('curl --http2-prior-knowledge and curl HTTP/1.1 share the outbound port', async (t) => {
  const h2 = await run('curl', ['-sS', '--http2-prior-knowledge', '-H', 'Host: echo', '-w', '\n%{http_version} %{response_code}', `http://${CLIENT}:15001/curl-h2`]);
  t.is(h2.code, 0, h2.stderr);
  t.is(h2.stdout, 'echo GET /curl-h2 host=echo body=\n2 200');
  const h1 = await run('curl', ['-sS', '--http1.1', '-H', 'Host: echo', '-w', '\n%{http_version} %{response_code}', `http://${CLIENT}:15001/curl-h1`]);
  t.is(h1.code, 0, h1.stderr);
  t.is(h1.stdout, 'echo GET /curl-h1 host=echo body=\n1.1 200');
});

test.serial('an h2c request without a route gets the 404 NR local reply on its stream', async (t) => {
  const session = http2.connect(`http://${CLIENT}:15001`);
  try {
    const stream = session.request({ ':path': '/', ':authority': 'nobody.example' });
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    stream.resume();
    t.is(Number(headers[':status']), 404);
    t.is(headers['x-meshfed-response-flags'], 'NR');
  } finally {
    session.destroy();
  }
});

test.serial('HTTP/1.1 split before the preface could be ruled out still parses, pipelined', async (t) => {
  const sock = net.connect(15001, CLIENT);
  try {
    let text = '';
    sock.on('data', (d: Buffer) => {
      text += d.toString();
    });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('P');
    await new Promise((r) => setTimeout(r, 20));
    sock.write('OST /split HTTP/1.1\r\nHost: echo\r\nContent-Length: 3\r\n\r\nabcGET /second HTTP/1.1\r\nHost: echo\r\n\r\n');
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (text.includes('echo GET /second')) resolve();
      };
      sock.on('data', check);
      check();
    });
    t.regex(text, /echo POST \/split host=echo body=abc/);
    t.regex(text, /echo GET \/second host=echo body=/);
  } finally {
    sock.destroy();
  }
});

test.serial('the source reporter counts the h2c requests in istio_requests_total', async (t) => {
  const text = await (await fetch(`${pair.client.urls.metrics}/stats/prometheus`)).text();
  t.truthy(metricLine(text, 'istio_requests_total', { reporter: 'source', destination_service_name: 'echo', response_code: '200' }), text);
});
