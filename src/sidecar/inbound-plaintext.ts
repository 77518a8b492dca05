import http2 from 'node:http2';
import type net from 'node:net';

/** The first byte of every TLS record carrying a handshake (ClientHello): content type 22. */
const TLS_HANDSHAKE = 0x16;

/**
 * Lets the inbound TLS server also accept plaintext, as Istio's PERMISSIVE mode does: on each
 * accepted connection the first bytes decide. A TLS handshake goes to the TLS server as before; any
 * other first byte goes to a plaintext HTTP/2 (prior knowledge) server, whose requests and
 * sessions are re-emitted on the TLS server (`request`, `session`), so one handler serves both.
 * `onPlaintext` runs for each plaintext connection before its first request (the caller marks it
 * as having no peer identity); when it returns false the connection is refused (closed unread). `passthrough` (capture mode) may take a plaintext connection first,
 * returning true when it did (inbound-passthrough.ts). A connection that closes before sending a
 * byte is dropped.
 */
export function acceptPlaintext(
  server: http2.Http2SecureServer,
  onPlaintext: (socket: net.Socket) => boolean,
  passthrough?: (socket: net.Socket, first: Buffer) => boolean,
): void {
  const tlsListeners = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  const plain = http2.createServer({ settings: { enableConnectProtocol: true } });
  plain.on('request', (req, res) => server.emit('request', req, res));
  plain.on('connect', (req, res) => server.emit('connect', req, res));
  plain.on('session', (session) => server.emit('session', session));
  server.on('connection', (socket: net.Socket) => {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) {
        for (const l of tlsListeners) l.call(server, socket);
      } else if (!passthrough?.(socket, first)) {
        if (onPlaintext(socket)) plain.emit('connection', socket);
        else socket.destroy();
      }
      // Not resumed here: the TLS or HTTP/2 layer now reads the socket (and the unshifted bytes).
    });
    socket.once('error', () => socket.destroy());
  });
}
