/**
 * The backend of the direct and nginx paths: the mesh's own echo app (src/cli/apps/echo-http.ts),
 * so all four paths end in the same code answering the same small JSON. Run as a child of run.ts:
 *
 *   node --import tsx bench/backend.ts <host> <port>
 *
 * Prints `ready` on stdout once listening; exits on SIGTERM, or when its parent goes away.
 */
import { startEchoHttp } from '../src/cli/apps/echo-http.ts';

const [host, portText] = process.argv.slice(2);
const port = Number(portText);
if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('usage: backend.ts <host> <port>\n');
  process.exit(2);
}

const server = await startEchoHttp(
  { cluster: 'bench', namespace: 'default', workload: 'backend', service: 'bench', version: null },
  host,
  port,
);
process.stdout.write('ready\n');

const parent = process.ppid;
const watch = setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 1000);
watch.unref();

process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
});
