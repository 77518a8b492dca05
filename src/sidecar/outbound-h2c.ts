import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';

/** RFC 9113 §3.4: every prior-knowledge HTTP/2 connection opens with these 24 octets. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * How a connection's first bytes classify it: `h2` once they are the whole HTTP/2 preface,
 * `http1` as soon as they diverge from it, `more` while they are a proper prefix of it (a real
 * HTTP/1.1 request line never is one past "PRI "). Pure; the caller buffers.
 */
export function classifyPreface(first: Buffer): 'h2' | 'http1' | 'more' {
  const n = Math.min(first.length, H2_PREFACE.length);
  if (first.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'h2' : 'more';
}

/**
 * Lets the outbound HTTP/1.1 server also accept prior-knowledge h2c on the same port, as Envoy's
 * codec auto-detection does: each accepted connection is classified by its first bytes. HTTP/1.1
 * goes to the server's own connection handling as before; the HTTP/2 preface goes to a plaintext
 * HTTP/2 server whose requests reach `onH2Request` (compatibility API), and CONNECT requests
 * (RFC 8441 extended CONNECT included) `onH2Connect` when given (else Node answers them 405). Connections that close
 * before they are classified are dropped. `onSession` of the result sees every h2c session, so
 * that the caller can close them with the listener, and `server` is the HTTP/2 server itself
 * (for its bounds); `h2Options` are its options (limits, settings).
 */
export function acceptH2c(
  server: http.Server,
  onH2Request: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  onH2Connect?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  h2Options: http2.ServerOptions = {},
): { onSession(cb: (session: http2.ServerHttp2Session) => void): void; server: http2.Http2Server } {
  const http1Listeners = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  // With `onH2Connect`, SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441): WebSocket from an h2c app is an extended CONNECT.
  const h2 = http2.createServer({ ...h2Options, settings: { ...h2Options.settings, ...(onH2Connect ? { enableConnectProtocol: true } : {}) } });
  h2.on('request', onH2Request);
  if (onH2Connect) h2.on('connect', onH2Connect);
  server.on('connection', (socket: net.Socket) => {
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const kind = classifyPreface(seen);
      if (kind === 'more') return;
      socket.off('data', onData);
      socket.pause();
      socket.unshift(seen);
      if (kind === 'h2') {
        // Not resumed: the HTTP/2 session reads what is buffered, then the socket's handle.
        h2.emit('connection', socket);
      } else {
        for (const l of http1Listeners) l.call(server, socket);
        // The HTTP/1.1 parser takes the buffered bytes through 'data' once the socket flows.
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.once('error', () => socket.destroy());
  });
  return { onSession: (cb) => h2.on('session', cb), server: h2 };
}
