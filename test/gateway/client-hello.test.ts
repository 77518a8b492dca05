import test from 'ava';
import { parseClientHello } from '../../src/dataplane/tcp/client-hello.ts';
import { captureClientHello, reframe } from './tls-fixtures.ts';

const HOST = '127.62.1.1';
const SNI = 'outbound_.9080_._.reviews.default.svc.cluster.local';

// ---- builders for synthetic ClientHellos ----

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}
function vec16(data: Buffer): Buffer {
  return Buffer.concat([u16(data.length), data]);
}
function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), vec16(data)]);
}
function sniExt(names: { type?: number; name: string | Buffer }[]): Buffer {
  const list = Buffer.concat(
    names.map((n) => {
      const name = typeof n.name === 'string' ? Buffer.from(n.name, 'latin1') : n.name;
      return Buffer.concat([Buffer.from([n.type ?? 0]), vec16(name)]);
    }),
  );
  return ext(0, vec16(list));
}
function alpnExt(protocols: string[]): Buffer {
  const list = Buffer.concat(protocols.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])));
  return ext(16, vec16(list));
}

interface HelloParts {
  handshakeType?: number;
  version?: [number, number];
  sessionId?: Buffer;
  suites?: Buffer;
  compression?: Buffer;
  /** Raw extensions block contents; null omits the block. */
  extensions?: Buffer | null;
  /** Overrides the extensions block length. */
  extensionsLength?: number;
  /** Overrides the handshake length. */
  handshakeLength?: number;
}

function handshake(p: HelloParts): Buffer {
  const sessionId = p.sessionId ?? Buffer.alloc(32, 7);
  const suites = p.suites ?? Buffer.from([0x13, 0x01, 0x13, 0x02]);
  const compression = p.compression ?? Buffer.from([0]);
  const extensions = p.extensions === undefined ? sniExt([{ name: SNI }]) : p.extensions;
  const body = Buffer.concat([
    Buffer.from(p.version ?? [3, 3]),
    Buffer.alloc(32, 1),
    Buffer.from([sessionId.length]),
    sessionId,
    u16(suites.length),
    suites,
    Buffer.from([compression.length]),
    compression,
    extensions === null ? Buffer.alloc(0) : Buffer.concat([u16(p.extensionsLength ?? extensions.length), extensions]),
  ]);
  const len = p.handshakeLength ?? body.length;
  return Buffer.concat([Buffer.from([p.handshakeType ?? 1, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff]), body]);
}

function record(data: Buffer, opts: { type?: number; version?: [number, number]; length?: number } = {}): Buffer {
  return Buffer.concat([Buffer.from([opts.type ?? 22, ...(opts.version ?? [3, 1])]), u16(opts.length ?? data.length), data]);
}

function hello(p: HelloParts = {}): Buffer {
  return record(handshake(p));
}

// ---- real ClientHellos written by Node's tls.connect ----

let real: Buffer;
let realNoSni: Buffer;

test.before(async () => {
  real = await captureClientHello(HOST, { servername: SNI, ALPNProtocols: ['h2', 'http/1.1'] });
  realNoSni = await captureClientHello(HOST, {});
});

test('a real ClientHello from tls.connect yields its SNI and ALPN', (t) => {
  const r = parseClientHello(real);
  t.deepEqual(r, { status: 'ok', sni: SNI, alpn: ['h2', 'http/1.1'], bytesConsumed: real.length });
});

test('a real ClientHello to an IP address carries no SNI', (t) => {
  const r = parseClientHello(realNoSni);
  t.is(r.status, 'ok');
  t.is(r.status === 'ok' ? r.sni : 'x', undefined);
});

test('bytes after the ClientHello are not consumed', (t) => {
  const r = parseClientHello(Buffer.concat([real, Buffer.from([20, 3, 3, 0, 1, 1])]));
  t.is(r.status === 'ok' ? r.bytesConsumed : -1, real.length);
});

for (const size of [1, 7, 100, 512]) {
  test(`a ClientHello spread over records of ${size} bytes is reassembled`, (t) => {
    const framed = reframe(real, size);
    t.deepEqual(parseClientHello(framed), { status: 'ok', sni: SNI, alpn: ['h2', 'http/1.1'], bytesConsumed: framed.length });
  });
}

for (const [name, framing] of [
  ['single record', (b: Buffer) => b],
  ['records of 50 bytes', (b: Buffer) => reframe(b, 50)],
  ['records of 1 byte', (b: Buffer) => reframe(b, 1)],
] as const) {
  test(`every proper prefix of a real ClientHello (${name}) is incomplete`, (t) => {
    const full = framing(real);
    const wrong: number[] = [];
    for (let n = 0; n < full.length; n++) {
      if (parseClientHello(full.subarray(0, n)).status !== 'incomplete') wrong.push(n);
    }
    t.deepEqual(wrong, []);
    t.is(parseClientHello(full).status, 'ok');
  });
}

test('every proper prefix of a synthetic ClientHello without extensions is incomplete', (t) => {
  const full = hello({ extensions: null });
  for (let n = 0; n < full.length; n++) t.is(parseClientHello(full.subarray(0, n)).status, 'incomplete', `prefix ${n}`);
  t.deepEqual(parseClientHello(full), { status: 'ok', sni: undefined, alpn: [], bytesConsumed: full.length });
});

test('the server name is lower-cased', (t) => {
  const r = parseClientHello(hello({ extensions: sniExt([{ name: 'Reviews.Default.SVC' }]) }));
  t.is(r.status === 'ok' ? r.sni : undefined, 'reviews.default.svc');
});

test('ALPN and SNI are read from a synthetic hello with other extensions between them', (t) => {
  const extensions = Buffer.concat([ext(43, Buffer.from([2, 3, 4])), alpnExt(['istio-peer-exchange', 'h2']), ext(0xff01, Buffer.from([0])), sniExt([{ name: 'a.b' }])]);
  t.like(parseClientHello(hello({ extensions })), { status: 'ok', sni: 'a.b', alpn: ['istio-peer-exchange', 'h2'] });
});

const sslv2Hello = Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, ...Buffer.alloc(37, 5)]);

const INVALID: [string, Buffer | (() => Buffer), string][] = [
  ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'not a TLS handshake record'],
  ['an SSLv2-style hello', sslv2Hello, 'not a TLS handshake record'],
  ['an application data record first', () => record(handshake({}), { type: 23 }), 'not a TLS handshake record'],
  ['record version 2.0', () => record(handshake({}), { version: [2, 0] }), 'major'],
  ['record version 3.0', () => record(handshake({}), { version: [3, 0] }), 'out of range'],
  ['record version 3.5', () => record(handshake({}), { version: [3, 5] }), 'out of range'],
  ['an empty handshake record', () => record(Buffer.alloc(0)), 'empty handshake record'],
  ['a record longer than 2^14', () => record(handshake({}), { length: 16385 }), 'exceeds 2^14'],
  ['a ServerHello', () => hello({ handshakeType: 2 }), 'not ClientHello'],
  ['legacy_version 2.0', () => hello({ version: [2, 0] }), 'legacy_version'],
  ['a session id of 33 bytes', () => hello({ sessionId: Buffer.alloc(33) }), 'exceeds 32'],
  ['an odd cipher_suites length', () => hello({ suites: Buffer.from([0x13, 0x01, 0x13]) }), 'even'],
  ['no cipher suites', () => hello({ suites: Buffer.alloc(0) }), 'even'],
  ['no compression methods', () => hello({ compression: Buffer.alloc(0) }), 'compression'],
  ['an extensions block overflowing the hello', () => hello({ extensionsLength: 500 }), 'overflows ClientHello'],
  ['an extensions block shorter than the hello', () => hello({ extensions: Buffer.concat([sniExt([{ name: 'a.b' }]), Buffer.from([1])]), extensionsLength: sniExt([{ name: 'a.b' }]).length }), 'trailing'],
  ['an extension overflowing the block', () => hello({ extensions: Buffer.concat([u16(0), u16(40), Buffer.alloc(10)]) }), 'overflows extensions'],
  ['a handshake length shorter than its contents', () => record(handshake({ handshakeLength: 20 })), 'overflows ClientHello'],
  ['a duplicate extension', () => hello({ extensions: Buffer.concat([sniExt([{ name: 'a.b' }]), sniExt([{ name: 'c.d' }])]) }), 'duplicate'],
  ['two host names', () => hello({ extensions: sniExt([{ name: 'a.b' }, { name: 'c.d' }]) }), 'more than one'],
  ['a server name type other than host_name', () => hello({ extensions: sniExt([{ type: 1, name: 'a.b' }]) }), 'unknown server name type'],
  ['an empty server_name list', () => hello({ extensions: ext(0, vec16(Buffer.alloc(0))) }), 'empty server_name_list'],
  ['a server_name list overflowing its extension', () => hello({ extensions: ext(0, Buffer.concat([u16(50), Buffer.from([0, 0, 3, 0x61, 0x2e, 0x62])])) }), 'overflows'],
  ['a host name with a space', () => hello({ extensions: sniExt([{ name: 'a b.c' }]) }), 'hostname'],
  ['a host name with non-ASCII bytes', () => hello({ extensions: sniExt([{ name: Buffer.from('bücher.de', 'utf8') }]) }), 'hostname'],
  ['a host name with a trailing dot', () => hello({ extensions: sniExt([{ name: 'a.b.' }]) }), 'hostname'],
  ['a host name with an empty label', () => hello({ extensions: sniExt([{ name: 'a..b' }]) }), 'hostname'],
  ['an empty host name', () => hello({ extensions: sniExt([{ name: '' }]) }), 'hostname'],
  ['a host name of 256 bytes', () => hello({ extensions: sniExt([{ name: `${'a.'.repeat(127)}ab` }]) }), 'hostname'],
  ['an empty ALPN list', () => hello({ extensions: ext(16, vec16(Buffer.alloc(0))) }), 'empty ALPN'],
  ['an empty ALPN protocol name', () => hello({ extensions: ext(16, vec16(Buffer.from([0, 2, 0x68, 0x32]))) }), 'empty ALPN protocol name'],
  ['an ALPN name overflowing its list', () => hello({ extensions: ext(16, vec16(Buffer.from([9, 0x68, 0x32]))) }), 'overflows'],
  ['an alert record in the middle of the hello', () => Buffer.concat([record(handshake({}).subarray(0, 20)), record(Buffer.from([2, 40]), { type: 21 })]), 'record type 21'],
];

for (const [name, input, reason] of INVALID) {
  test(`invalid: ${name}`, (t) => {
    const r = parseClientHello(typeof input === 'function' ? input() : input);
    t.is(r.status, 'invalid');
    t.true(r.status === 'invalid' && r.reason.includes(reason), r.status === 'invalid' ? r.reason : r.status);
  });
}

test('corrupting the real hello\'s session id length is invalid, not incomplete', (t) => {
  const bad = Buffer.from(real);
  bad[5 + 4 + 2 + 32] = 200; // record header, handshake header, version, random → session id length
  t.is(parseClientHello(bad).status, 'invalid');
});

test('2000 random mutations of a real ClientHello never throw', (t) => {
  let seed = 0x5eed;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const framed = reframe(real, 64);
  const counts = { ok: 0, incomplete: 0, invalid: 0 };
  for (let i = 0; i < 2000; i++) {
    const base = i % 2 === 0 ? real : framed;
    let m = Buffer.from(base);
    const op = rand(4);
    if (op === 0) {
      for (let k = 0, flips = 1 + rand(4); k < flips; k++) m[rand(m.length)] = rand(256);
    } else if (op === 1) {
      m = m.subarray(0, rand(m.length));
    } else if (op === 2) {
      const at = rand(m.length);
      m = Buffer.concat([m.subarray(0, at), Buffer.from([rand(256), rand(256)]), m.subarray(at)]);
    } else {
      const at = rand(m.length);
      m = Buffer.concat([m.subarray(0, at), m.subarray(at + 1 + rand(8))]);
    }
    const r = parseClientHello(m);
    counts[r.status] += 1;
    if (r.status === 'ok') t.true(r.bytesConsumed <= m.length);
  }
  t.is(counts.ok + counts.incomplete + counts.invalid, 2000);
  t.true(counts.invalid > 0 && counts.incomplete > 0);
});
