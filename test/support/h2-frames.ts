import net from 'node:net';

/**
 * A small raw HTTP/2 frame writer and reader for attack tests (RFC 9113 §4.1 framing, HPACK
 * literals without Huffman from RFC 7541 §6.2.2). Tests send hostile frame sequences with it
 * over a plain `net` socket to an h2c listener; nothing here validates or retries.
 */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** One frame: 9-octet header then payload. */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK string literal, no Huffman (lengths below 127 only). */
function str(s: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  if (b.length >= 127) throw new Error('h2-frames: string too long for this writer');
  return Buffer.concat([Buffer.from([b.length]), b]);
}

/** A header block of literal fields without indexing (new names), in order. */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.map(([n, v]) => Buffer.concat([Buffer.from([0x00]), str(n), str(v)])));
}

/** A GET request header block for `authority` and `path`. */
export function getRequestBlock(authority: string, path = '/'): Buffer {
  return headerBlock([
    [':method', 'GET'],
    [':scheme', 'http'],
    [':authority', authority],
    [':path', path],
  ]);
}

export const settingsFrame = (): Buffer => frame(FRAME.SETTINGS, 0, 0);
export const settingsAck = (): Buffer => frame(FRAME.SETTINGS, FLAG.ACK, 0);
export const rstStream = (id: number, code = 8): Buffer => {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, id, p);
};
export const ping = (n: number): Buffer => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(n >>> 0, 4);
  return frame(FRAME.PING, 0, 0, p);
};

/** A frame read back: type, flags, stream, payload. */
export interface ReadFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/**
 * A raw h2c client connection: writes the preface and an empty SETTINGS, collects every frame the
 * server sends, and resolves `closed` when the socket closes. The caller destroys it.
 */
export interface RawH2 {
  socket: net.Socket;
  frames: ReadFrame[];
  closed: Promise<void>;
  /** Resolves with the first frame of `type` (or undefined once the socket closes without one). */
  waitFor(type: number): Promise<ReadFrame | undefined>;
}

export function connectRawH2(host: string, port: number, opts: { read?: boolean } = {}): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const frames: ReadFrame[] = [];
    const waiters: { type: number; resolve: (f: ReadFrame | undefined) => void }[] = [];
    let buf = Buffer.alloc(0);
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.once('close', () => {
      isClosed = true;
      for (const w of waiters.splice(0)) w.resolve(undefined);
      r();
    }));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const f: ReadFrame = { type: buf[3] ?? 0, flags: buf[4] ?? 0, streamId: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) };
        buf = buf.subarray(9 + len);
        frames.push(f);
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i];
          if (w && w.type === f.type) {
            waiters.splice(i, 1);
            w.resolve(f);
          }
        }
      }
    });
    socket.once('connect', () => {
      socket.write(Buffer.concat([PREFACE, settingsFrame()]));
      if (opts.read === false) socket.pause();
      resolve({
        socket,
        frames,
        closed,
        waitFor: (type) => {
          const seen = frames.find((f) => f.type === type);
          if (seen || isClosed) return Promise.resolve(seen);
          return new Promise((r) => waiters.push({ type, resolve: r }));
        },
      });
    });
    socket.once('error', reject);
  });
}

/** Writes `bytes`, resolving once written or once the socket is gone (so floods stay bounded). */
export function writeOrGone(socket: net.Socket, bytes: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(false);
    const ok = socket.write(bytes, (err) => resolve(!err));
    if (ok) return;
    socket.once('close', () => resolve(false));
  });
}
