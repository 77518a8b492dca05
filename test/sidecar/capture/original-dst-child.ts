import net from 'node:net';
import { originalDstReader } from '../../../src/sidecar/capture/original-dst.ts';

/**
 * Run inside a network namespace by original-dst.test.ts: listens on 0.0.0.0:<listenPort>,
 * connects to <host>:<port> (which the namespace's iptables may REDIRECT to the listener), and
 * prints the accepted socket's original destination as read by meshfed's reader, as JSON.
 */
const [listenPort, host, port] = process.argv.slice(2);
const reader = originalDstReader();
if (!reader.ok) {
  console.log(JSON.stringify({ ok: false, errors: reader.errors }));
  process.exit(0);
}
const server = net.createServer((socket) => {
  console.log(JSON.stringify(reader.value(socket)));
  socket.destroy();
  server.close();
});
server.listen(Number(listenPort), '0.0.0.0', () => {
  const c = net.connect({ host: host ?? '', port: Number(port) });
  c.on('error', (e) => {
    console.log(JSON.stringify({ ok: false, errors: `connect: ${e.message}` }));
    server.close();
  });
  c.on('close', () => c.destroy());
});
