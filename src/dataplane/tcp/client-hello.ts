/**
 * A pure parser of the TLS ClientHello, for SNI routing without terminating TLS.
 *
 * Contract: `parseClientHello` looks only at the bytes given, never throws and never reads out of
 * bounds. It returns
 *   - `ok` once the whole ClientHello handshake message is in `buf`; `bytesConsumed` is the offset in
 *     `buf` just past the ClientHello's last byte (the caller forwards all buffered bytes anyway);
 *   - `incomplete` when `buf` is a valid prefix of a ClientHello and more bytes may complete it;
 *   - `invalid` as soon as the bytes seen cannot start a well-formed ClientHello (first byte not a
 *     handshake record, a length that overflows its container, a bad server name…).
 * The handshake message may span several TLS records; fragments are reassembled.
 */
export type ClientHelloResult =
  | { status: 'ok'; sni: string | undefined; alpn: string[]; bytesConsumed: number }
  | { status: 'incomplete' }
  | { status: 'invalid'; reason: string };

const RECORD_HEADER = 5;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/** RFC 8446 §5.1: a plaintext fragment is at most 2^14 bytes. */
const MAX_RECORD_FRAGMENT = 1 << 14;
/** A ClientHello larger than this is refused (real ones are a few KiB at most). */
export const MAX_CLIENT_HELLO_LENGTH = 1 << 16;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const MAX_HOSTNAME_LENGTH = 255;

/** Thrown only inside this module and caught at its boundary; never escapes. */
class Stop {
  constructor(readonly result: { status: 'incomplete' } | { status: 'invalid'; reason: string }) {}
}

const INCOMPLETE = new Stop({ status: 'incomplete' });

function invalid(reason: string): Stop {
  return new Stop({ status: 'invalid', reason });
}

/**
 * Reads a byte range whose declared end (`end`) may lie beyond the bytes at hand (`avail`).
 * Reading past `end` means the structure overflows its container: invalid. Reading past `avail`
 * (but within `end`) means more bytes are needed: incomplete.
 */
class Reader {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    readonly end: number,
    private readonly avail: number,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.pos + n > this.end) throw invalid(`${field} overflows ${this.what}`);
    if (this.pos + n > this.avail) throw INCOMPLETE;
  }

  u8(field: string): number {
    this.need(1, field);
    const v = this.buf[this.pos] ?? 0;
    this.pos += 1;
    return v;
  }

  u16(field: string): number {
    this.need(2, field);
    const v = ((this.buf[this.pos] ?? 0) << 8) | (this.buf[this.pos + 1] ?? 0);
    this.pos += 2;
    return v;
  }

  bytes(n: number, field: string): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number, field: string): void {
    this.need(n, field);
    this.pos += n;
  }

  /** A reader over the next `len` bytes, which must fit inside this one; advances past them. */
  sub(len: number, what: string): Reader {
    if (this.pos + len > this.end) throw invalid(`${what} length ${len} overflows ${this.what}`);
    const r = new Reader(this.buf, this.pos, this.pos + len, this.avail, what);
    this.pos += len;
    return r;
  }

  /** Ensures the declared range was consumed exactly. */
  done(): void {
    if (this.pos !== this.end) throw invalid(`${this.end - this.pos} trailing bytes in ${this.what}`);
  }
}

/** The handshake bytes carried by the leading handshake records, and where each came from. */
interface Reassembly {
  data: Buffer;
  /** For each fragment: its start in `data` and in the raw buffer. */
  fragments: { dataStart: number; rawStart: number; length: number }[];
  /** True when the raw bytes ran out before `wanted` handshake bytes were collected. */
  truncated: boolean;
}

function checkRecordHeader(buf: Buffer, at: number): void {
  const type = buf[at];
  if (type === undefined) throw INCOMPLETE;
  if (type !== CONTENT_HANDSHAKE) {
    throw invalid(at === 0 ? `not a TLS handshake record (first byte 0x${type.toString(16)})` : `record type ${type} before ClientHello completed`);
  }
  const major = buf[at + 1];
  if (major === undefined) throw INCOMPLETE;
  if (major !== 3) throw invalid(`record version major ${major} is not 3`);
  const minor = buf[at + 2];
  if (minor === undefined) throw INCOMPLETE;
  if (minor < 1 || minor > 4) throw invalid(`record version 0x03${minor.toString(16).padStart(2, '0')} out of range`);
  const hi = buf[at + 3];
  const lo = buf[at + 4];
  if (hi === undefined || lo === undefined) throw INCOMPLETE;
  const length = (hi << 8) | lo;
  if (length === 0) throw invalid('empty handshake record');
  if (length > MAX_RECORD_FRAGMENT) throw invalid(`record length ${length} exceeds 2^14`);
}

/** Collects handshake bytes from consecutive records until `wanted` bytes or the input runs out. */
function reassemble(buf: Buffer, wanted: number): Reassembly {
  const chunks: Buffer[] = [];
  const fragments: Reassembly['fragments'] = [];
  let collected = 0;
  let at = 0;
  while (collected < wanted) {
    if (at >= buf.length) return { data: Buffer.concat(chunks), fragments, truncated: true };
    checkRecordHeader(buf, at);
    const length = ((buf[at + 3] ?? 0) << 8) | (buf[at + 4] ?? 0);
    const rawStart = at + RECORD_HEADER;
    const take = Math.min(length, buf.length - rawStart);
    chunks.push(buf.subarray(rawStart, rawStart + take));
    fragments.push({ dataStart: collected, rawStart, length: take });
    collected += take;
    if (take < length) return { data: Buffer.concat(chunks), fragments, truncated: collected < wanted };
    at = rawStart + length;
  }
  return { data: Buffer.concat(chunks), fragments, truncated: false };
}

function rawOffsetOf(r: Reassembly, dataOffset: number): number {
  for (const f of r.fragments) {
    if (dataOffset <= f.dataStart + f.length) return f.rawStart + (dataOffset - f.dataStart);
  }
  return -1;
}

/** Letters, digits, `-` and `_` (Istio SNIs carry `outbound_.`), dot-separated, no empty label. */
function validHostname(name: Buffer): string | undefined {
  if (name.length === 0 || name.length > MAX_HOSTNAME_LENGTH) return undefined;
  let labelLength = 0;
  for (const c of name) {
    const isAlnum = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
    if (c === 0x2e) {
      if (labelLength === 0) return undefined;
      labelLength = 0;
    } else if (isAlnum || c === 0x2d || c === 0x5f) {
      labelLength += 1;
      if (labelLength > 63) return undefined;
    } else {
      return undefined;
    }
  }
  if (labelLength === 0) return undefined;
  return name.toString('latin1').toLowerCase();
}

function parseServerName(ext: Reader): string {
  const list = ext.sub(ext.u16('server_name_list length'), 'server_name_list');
  ext.done();
  let host: string | undefined;
  if (list.remaining === 0) throw invalid('empty server_name_list');
  while (list.remaining > 0) {
    const nameType = list.u8('name_type');
    const name = list.bytes(list.u16('host_name length'), 'host_name');
    if (nameType !== 0) throw invalid(`unknown server name type ${nameType}`);
    if (host !== undefined) throw invalid('more than one host_name in server_name');
    host = validHostname(name);
    if (host === undefined) throw invalid('server name is not a valid ASCII hostname');
  }
  return host ?? '';
}

function parseAlpn(ext: Reader): string[] {
  const list = ext.sub(ext.u16('protocol_name_list length'), 'protocol_name_list');
  ext.done();
  if (list.remaining < 2) throw invalid('empty ALPN protocol list');
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const len = list.u8('protocol name length');
    if (len === 0) throw invalid('empty ALPN protocol name');
    protocols.push(list.bytes(len, 'protocol name').toString('latin1'));
  }
  return protocols;
}

function parseBody(body: Reader): { sni: string | undefined; alpn: string[] } {
  const major = body.u8('legacy_version');
  const minor = body.u8('legacy_version');
  if (major !== 3 || minor < 1 || minor > 4) throw invalid(`ClientHello legacy_version ${major}.${minor} out of range`);
  body.skip(32, 'random');
  const sessionIdLength = body.u8('session id length');
  if (sessionIdLength > 32) throw invalid(`session id length ${sessionIdLength} exceeds 32`);
  body.skip(sessionIdLength, 'session id');
  const suites = body.u16('cipher_suites length');
  if (suites === 0 || suites % 2 !== 0) throw invalid(`cipher_suites length ${suites} is not a positive even number`);
  body.skip(suites, 'cipher_suites');
  const compression = body.u8('compression_methods length');
  if (compression === 0) throw invalid('no compression methods');
  body.skip(compression, 'compression_methods');
  let sni: string | undefined;
  let alpn: string[] = [];
  // Before TLS 1.2 a ClientHello may end here without an extensions block.
  if (body.remaining === 0) return { sni, alpn };
  const extensions = body.sub(body.u16('extensions length'), 'extensions');
  body.done();
  const seen = new Set<number>();
  while (extensions.remaining > 0) {
    const type = extensions.u16('extension type');
    const ext = extensions.sub(extensions.u16('extension length'), `extension ${type}`);
    if (seen.has(type)) throw invalid(`duplicate extension ${type}`);
    seen.add(type);
    if (type === EXT_SERVER_NAME) {
      // RFC 6066 allows an empty server_name in a ServerHello only.
      sni = parseServerName(ext);
    } else if (type === EXT_ALPN) {
      alpn = parseAlpn(ext);
    } else {
      ext.skip(ext.remaining, `extension ${type}`);
    }
  }
  return { sni, alpn };
}

/** Parses the first TLS ClientHello in `buf`. Pure; never throws (see the module contract). */
export function parseClientHello(buf: Buffer): ClientHelloResult {
  try {
    const head = reassemble(buf, 4);
    if (head.data.length < 1) return { status: 'incomplete' };
    const msgType = head.data[0];
    if (msgType !== HANDSHAKE_CLIENT_HELLO) return { status: 'invalid', reason: `handshake type ${msgType} is not ClientHello` };
    if (head.data.length < 4) return { status: 'incomplete' };
    const length = ((head.data[1] ?? 0) << 16) | ((head.data[2] ?? 0) << 8) | (head.data[3] ?? 0);
    if (length > MAX_CLIENT_HELLO_LENGTH) return { status: 'invalid', reason: `ClientHello length ${length} exceeds limit` };
    const whole = reassemble(buf, 4 + length);
    const body = new Reader(whole.data, 4, 4 + length, whole.data.length, 'ClientHello');
    const parsed = parseBody(body);
    if (whole.truncated || whole.data.length < 4 + length) return { status: 'incomplete' };
    const bytesConsumed = rawOffsetOf(whole, 4 + length);
    if (bytesConsumed < 0) return { status: 'invalid', reason: 'ClientHello reassembly failed' };
    return { status: 'ok', sni: parsed.sni, alpn: parsed.alpn, bytesConsumed };
  } catch (e: unknown) {
    if (e instanceof Stop) return e.result;
    return { status: 'invalid', reason: `parser error: ${e instanceof Error ? e.message : String(e)}` };
  }
}
