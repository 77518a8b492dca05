import net from 'node:net';
import tls from 'node:tls';

/**
 * The built-in `app: echo` for a tcp port: writes back every byte it reads, and half-closes when
 * the client does, so a client can tell its whole message came back. Raw TCP has no room for the
 * JSON identity the HTTP echo sends, so the identity is logged by the caller, not sent.
 */
export function startEchoTcp(host: string, port: number): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * The echo app's TLS mode (`meshfed echo --protocol tls`): terminates TLS itself with its own
 * certificate (not a mesh one) and writes back every decrypted byte, half-closing when the client
 * does. In the mesh this is the app's own TLS, which sidecars route by SNI and pass through.
 */
export function startEchoTls(host: string, port: number, material: { certPem: string; keyPem: string }): Promise<tls.Server> {
  const server = tls.createServer({ cert: material.certPem, key: material.keyPem, allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('tlsClientError', () => {});
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
