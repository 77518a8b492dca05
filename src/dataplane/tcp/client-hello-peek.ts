import type net from 'node:net';
import { MAX_CLIENT_HELLO_LENGTH, parseClientHello } from './client-hello.ts';

/** What the peek saw. The bytes read are back in the socket's read buffer in every case but `closed`. */
export type PeekResult =
  /** A whole ClientHello: its SNI (undefined without the extension) and ALPN list. */
  | { kind: 'tls'; sni: string | undefined; alpn: string[] }
  /** Bytes that cannot start a ClientHello: plaintext, or garbage (Envoy's tls_inspector lets these through to the default chain). */
  | { kind: 'not-tls' }
  /**
   * The connection was given up and destroyed: `timeout` (no whole ClientHello in time),
   * `oversized` (a ClientHello prefix past the bound) or `eof` (closed or half-closed mid-hello).
   */
  | { kind: 'closed'; reason: 'timeout' | 'oversized' | 'eof' };

export interface PeekOptions {
  /** Give up (and destroy the socket) after this long without a whole ClientHello. */
  timeoutMs: number;
  /** Give up once this many bytes are buffered and the hello is still incomplete. Default MAX_CLIENT_HELLO_LENGTH + one record header. */
  maxBytes?: number;
}

/**
 * Envoy's `envoy.filters.listener.tls_inspector` on an accepted socket: reads until the bytes are
 * a whole ClientHello (it may arrive over several TCP segments and TLS records), cannot be one, or
 * a bound is hit; then pauses the socket and puts every byte read back (`unshift`), so whoever
 * reads next sees the stream unchanged. Contract: call right after accept, before anyone else
 * reads; resolves exactly once, never rejects. On `closed` the socket is already destroyed.
 */
export function peekClientHello(socket: net.Socket, opts: PeekOptions): Promise<PeekResult> {
  const maxBytes = opts.maxBytes ?? MAX_CLIENT_HELLO_LENGTH + 5;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const cleanup = (): void => {
      done = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
    };
    const handBack = (r: PeekResult): void => {
      cleanup();
      socket.pause();
      if (size > 0) socket.unshift(Buffer.concat(chunks, size));
      resolve(r);
    };
    const giveUp = (reason: 'timeout' | 'oversized' | 'eof'): void => {
      if (done) return;
      cleanup();
      socket.destroy();
      resolve({ kind: 'closed', reason });
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const hello = parseClientHello(chunks.length === 1 ? chunk : Buffer.concat(chunks, size));
      if (hello.status === 'ok') handBack({ kind: 'tls', sni: hello.sni, alpn: hello.alpn });
      else if (hello.status === 'invalid') handBack({ kind: 'not-tls' });
      else if (size >= maxBytes) giveUp('oversized');
    };
    const onEnd = (): void => giveUp('eof');
    const timer = setTimeout(() => giveUp('timeout'), opts.timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}
