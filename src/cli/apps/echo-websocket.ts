import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The echo app's WebSocket mode (RFC 6455, server side, written here: the app needs only to echo):
 * an `Upgrade: websocket` request is answered 101 with `Sec-WebSocket-Accept`, then every text or
 * binary message is sent back as it came (fragments are joined first), pings get pongs, and a
 * close frame is answered with the same code before the socket ends. A first message `whoami`
 * is answered with the app's identity as JSON instead, so tests can see which workload echoed.
 * Frames from the client must be masked (§5.1); a protocol error closes with 1002.
 */
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_MESSAGE = 1 << 20;

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** One frame header + payload, unmasked (server → client). */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126) {
    head[0] = 0x80 | opcode;
    if (len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
  }
  return Buffer.concat([head, payload]);
}

interface Frame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
  /** Bytes of `buf` the frame used. */
  size: number;
}

/** Parses one client frame from the start of `buf`: a frame, `undefined` when more bytes are needed, or an error. */
export function decodeFrame(buf: Buffer): Frame | undefined | Error {
  if (buf.length < 2) return undefined;
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  if ((b0 & 0x70) !== 0) return new Error('reserved bits set');
  if ((b1 & 0x80) === 0) return new Error('client frame not masked');
  let len = b1 & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    const big = buf.readBigUInt64BE(2);
    if (big > BigInt(MAX_MESSAGE)) return new Error('frame too large');
    len = Number(big);
    off = 10;
  }
  if (len > MAX_MESSAGE) return new Error('frame too large');
  if (buf.length < off + 4 + len) return undefined;
  const mask = buf.subarray(off, off + 4);
  const payload = Buffer.alloc(len);
  for (let i = 0; i < len; i++) payload[i] = (buf[off + 4 + i] ?? 0) ^ (mask[i % 4] ?? 0);
  return { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload, size: off + 4 + len };
}

/** Handles an upgrade request of the echo HTTP server; `identity` is the JSON `whoami` answers. */
export function acceptWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, identity: object): void {
  const key = req.headers['sec-websocket-key'];
  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || typeof key !== 'string' || req.headers['sec-websocket-version'] !== '13') {
    socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  socket.on('error', () => {});
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${acceptKey(key)}\r\n\r\n`);
  let buf: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  let message: Buffer[] = [];
  let messageOpcode = 0;
  let first = true;
  const close = (code: number): void => {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(code);
    socket.end(encodeFrame(0x8, p));
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    for (;;) {
      const f = decodeFrame(buf);
      if (f === undefined) return;
      if (f instanceof Error) {
        close(1002);
        return;
      }
      buf = buf.subarray(f.size);
      if (f.opcode === 0x8) {
        socket.end(encodeFrame(0x8, f.payload.subarray(0, 2)));
        return;
      }
      if (f.opcode === 0x9) {
        socket.write(encodeFrame(0xa, f.payload));
        continue;
      }
      if (f.opcode === 0xa) continue;
      if (f.opcode === 0x1 || f.opcode === 0x2) {
        messageOpcode = f.opcode;
        message = [f.payload];
      } else if (f.opcode === 0x0) message.push(f.payload);
      else {
        close(1002);
        return;
      }
      if (!f.fin) continue;
      const whole = Buffer.concat(message);
      message = [];
      if (first && messageOpcode === 0x1 && whole.toString('utf8') === 'whoami') socket.write(encodeFrame(0x1, Buffer.from(JSON.stringify(identity))));
      else socket.write(encodeFrame(messageOpcode, whole));
      first = false;
    }
  };
  socket.on('data', onData);
  if (buf.length > 0) {
    const pending = buf;
    buf = Buffer.alloc(0);
    onData(pending);
  }
}
