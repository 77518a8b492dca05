import net from 'node:net';
import tls from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import { peekClientHello, type PeekResult } from '../../../src/dataplane/tcp/index.ts';
import { captureClientHello, selfSigned } from '../../gateway/tls-fixtures.ts';

/**
 * The sidecar's tls_inspector on real sockets (127.70.0.1): the ClientHello is read without being
 * consumed, so a real TLS server handed the socket afterwards completes the handshake with the
 * client; fragmented hellos, no SNI, garbage, oversized, EOF and timeout.
 */
const HOST = '127.70.0.1';
const cert = selfSigned('peek.test');

interface Ctx {
  server: net.Server;
  /** Every socket the server accepted, destroyed after each test. */
  accepted: Set<net.Socket>;
  port: number;
  /** Each accepted socket's peek, in accept order; `after` receives the socket once peeked. */
  next(after?: (s: net.Socket, r: PeekResult) => void, opts?: { timeoutMs?: number; maxBytes?: number }): Promise<PeekResult>;
}
const test = anyTest as TestFn<Ctx>;

test.beforeEach(async (t) => {
  const waiting: ((s: net.Socket) => void)[] = [];
  const accepted = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted.add(s);
    const take = waiting.shift();
    if (take) take(s);
    else s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  t.context = {
    server,
    accepted,
    port: (server.address() as net.AddressInfo).port,
    next: (after, opts) =>
      new Promise((resolve) => {
        waiting.push((s) => {
          void peekClientHello(s, { timeoutMs: opts?.timeoutMs ?? 30_000, ...(opts?.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}) }).then((r) => {
            after?.(s, r);
            resolve(r);
          });
        });
      }),
  };
});

test.afterEach.always(async (t) => {
  for (const s of t.context.accepted) s.destroy();
  await new Promise<void>((r) => t.context.server.close(() => r()));
});

/** Hands a peeked socket to a real TLS server, which echoes one message. */
function serveTls(s: net.Socket): void {
  const server = new tls.TLSSocket(s, { isServer: true, key: cert.keyPem, cert: cert.certPem });
  server.on('error', () => s.destroy());
  server.on('data', (d: Buffer) => server.end(Buffer.concat([Buffer.from('echo:'), d])));
}

/** Writes `parts` as separate TCP segments, each after the peer has had a chance to read the previous one. */
async function writeApart(c: net.Socket, parts: Buffer[]): Promise<void> {
  c.setNoDelay(true);
  for (const p of parts) {
    await new Promise<void>((r) => c.write(p, () => r()));
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves when the client socket closes, with whatever it read. */
function closed(c: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  c.on('data', (d: Buffer) => chunks.push(d));
  c.on('error', () => {});
  return new Promise((r) => c.once('close', () => r(Buffer.concat(chunks))));
}

test('a real ClientHello: SNI and ALPN read, bytes left in place, the TLS handshake completes through the peeked socket', async (t) => {
  const peeked = t.context.next(serveTls);
  const client = tls.connect({ host: HOST, port: t.context.port, servername: 'db.shop.svc.cluster.local', ALPNProtocols: ['postgresql'], rejectUnauthorized: false });
  const reply = new Promise<string>((resolve, reject) => {
    client.once('secureConnect', () => client.write('hello'));
    client.on('data', (d: Buffer) => resolve(d.toString()));
    client.on('error', reject);
  });
  t.deepEqual(await peeked, { kind: 'tls', sni: 'db.shop.svc.cluster.local', alpn: ['postgresql'] });
  t.is(await reply, 'echo:hello');
  t.is(client.getPeerCertificate().subject.CN, 'peek.test', 'the certificate the client saw is the TLS server’s own');
  client.destroy();
});

test('no SNI (connecting by IP): a ClientHello without server name', async (t) => {
  const peeked = t.context.next((s) => s.destroy());
  const client = tls.connect({ host: HOST, port: t.context.port, rejectUnauthorized: false });
  client.on('error', () => {});
  const r = await peeked;
  t.is(r.kind, 'tls');
  t.is(r.kind === 'tls' ? r.sni : 'x', undefined);
  client.destroy();
});

test('a hello fragmented over several TCP segments and split across two TLS records is reassembled, and every byte stays readable', async (t) => {
  const hello = await captureClientHello(HOST, { servername: 'frag.example.com' });
  const body = hello.subarray(5);
  const cut = 40;
  const record = (b: Buffer) => Buffer.concat([Buffer.from([22, 3, 1, b.length >> 8, b.length & 0xff]), b]);
  const wire = Buffer.concat([record(body.subarray(0, cut)), record(body.subarray(cut))]);
  let rest: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  const peeked = t.context.next((s) => {
    const chunks: Buffer[] = [];
    rest = new Promise((r) => {
      s.on('data', (d: Buffer) => chunks.push(d));
      s.once('end', () => r(Buffer.concat(chunks)));
    });
    s.resume();
  });
  const client = net.connect({ host: HOST, port: t.context.port });
  await new Promise<void>((r) => client.once('connect', () => r()));
  await writeApart(client, [wire.subarray(0, 3), wire.subarray(3, 30), wire.subarray(30, 80), wire.subarray(80)]);
  t.deepEqual(await peeked, { kind: 'tls', sni: 'frag.example.com', alpn: [] });
  client.end(Buffer.from('tail'));
  t.teardown(() => client.destroy());
  t.true((await rest).equals(Buffer.concat([wire, Buffer.from('tail')])), 'the reader after the peek sees the stream unchanged');
});

test('garbage (plain HTTP) is not TLS and is handed back unread', async (t) => {
  let first: Promise<Buffer> = Promise.resolve(Buffer.alloc(0));
  const peeked = t.context.next((s) => {
    first = new Promise((r) => s.once('data', (d: Buffer) => r(d)));
    s.resume();
  });
  const client = net.connect({ host: HOST, port: t.context.port }, () => client.write('GET / HTTP/1.1\r\n\r\n'));
  t.teardown(() => client.destroy());
  t.deepEqual(await peeked, { kind: 'not-tls' });
  t.is((await first).toString(), 'GET / HTTP/1.1\r\n\r\n');
  client.destroy();
});

test('a hello larger than the bound closes the connection', async (t) => {
  const peeked = t.context.next(undefined, { maxBytes: 1024 });
  const client = net.connect({ host: HOST, port: t.context.port });
  t.teardown(() => client.destroy());
  const done = closed(client);
  // A real hello of about 5 KB (50 long ALPN names); its first 2,000 bytes are a valid prefix past the 1,024-byte bound.
  const hello = await captureClientHello(HOST, { servername: 'big.example.com', ALPNProtocols: Array.from({ length: 50 }, (_, i) => `${i}`.padEnd(100, 'p')) });
  t.true(hello.length > 4000);
  client.write(hello.subarray(0, 2000));
  t.deepEqual(await peeked, { kind: 'closed', reason: 'oversized' });
  t.is((await done).length, 0, 'nothing was answered');
});

test('EOF in the middle of a hello closes the connection', async (t) => {
  const hello = await captureClientHello(HOST, { servername: 'eof.example.com' });
  const peeked = t.context.next();
  const client = net.connect({ host: HOST, port: t.context.port, allowHalfOpen: true }, () => client.end(hello.subarray(0, 20)));
  const done = closed(client);
  t.deepEqual(await peeked, { kind: 'closed', reason: 'eof' });
  t.true(await done.then(() => true), 'the client saw the connection close');
});

test('a client that stops mid-hello is closed when the hello timeout passes', async (t) => {
  const hello = await captureClientHello(HOST, { servername: 'slow.example.com' });
  const peeked = t.context.next(undefined, { timeoutMs: 200 });
  const client = net.connect({ host: HOST, port: t.context.port }, () => client.write(hello.subarray(0, 20)));
  const done = closed(client);
  t.deepEqual(await peeked, { kind: 'closed', reason: 'timeout' });
  t.is((await done).length, 0);
});
