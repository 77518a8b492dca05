import net from 'node:net';

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
