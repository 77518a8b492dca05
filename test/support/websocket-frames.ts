import type http2 from 'node:http2';

/**
 * Just enough of RFC 6455 framing for a test client speaking WebSocket over an RFC 8441 HTTP/2
 * stream (node:http2 has no WebSocket client): masked client frames, unmasked server frames,
 * payloads under 126 bytes, no fragmentation.
 */

/** A masked client frame (RFC 6455 §5.2), payloads under 126 bytes. */
export function clientFrame(opcode: number, payload: Buffer): Buffer {
  const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
}

/** Reads one unmasked server frame (payloads under 126 bytes) from a stream. */
export function serverFrame(stream: http2.ClientHttp2Stream): Promise<{ opcode: number; payload: string }> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const len = (buf[1] ?? 0) & 0x7f;
      if (buf.length < 2 || buf.length < 2 + len) return;
      stream.off('data', onData);
      resolve({ opcode: (buf[0] ?? 0) & 0x0f, payload: buf.subarray(2, 2 + len).toString('utf8') });
    };
    stream.on('data', onData);
    stream.once('error', reject);
  });
}
