import { once } from 'node:events';
import tls from 'node:tls';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { createGatewayDataPlane, type GatewayDataPlane } from '../../src/gateway/data-plane.ts';
import { validateGatewayOptions } from '../../src/gateway/gateway-options.ts';
import { startGateway } from '../../src/gateway/index.ts';
import net from 'node:net';
import { sniFor } from '../../src/xds/naming.ts';
import { reviewsGatewayConfig, startEchoBackend } from './gateway-config-fixture.ts';
import { type SelfSigned, selfSigned } from './tls-fixtures.ts';

/**
 * The east-west gateway's SIGTERM drain (issue 8 §4, as the sidecar's): it stops accepting at
 * once, lets open passthrough connections run for the drain duration, then closes them. On the
 * gateway's data plane with a real TLS echo backend; the gateway at 127.186.1.1, the backend at
 * 127.186.1.11:15006. Also the validation of the gateway bounds options behind its CLI flags.
 */
const GATEWAY = '127.186.1.1';
const POD = '127.186.1.11';
const REVIEWS = 'reviews.default.svc.cluster.local';
const logger = createLogger('gateway-drain-test');
logger.level = 'silent';

let cert: SelfSigned;
let backend: tls.Server;


test.before(async () => {
  cert = selfSigned('backend');
  // An echo backend that never closes on its own: only the gateway ends a connection.
  backend = await startEchoBackend(POD, cert);
});

test.after.always(async () => {
  await new Promise<void>((r) => backend.close(() => r()));
});

async function startPlane(t: import('ava').ExecutionContext): Promise<{ plane: GatewayDataPlane; port: number }> {
  const plane = createGatewayDataPlane({ address: GATEWAY, port: 0, cluster: 'west', logger });
  t.teardown(() => plane.close());
  plane.applyConfig(reviewsGatewayConfig(GATEWAY, POD));
  return { plane, port: await plane.listen() };
}

/** A TLS connection through the gateway that has echoed `hello` back once. */
async function openEchoing(port: number): Promise<tls.TLSSocket> {
  const client = tls.connect({ host: GATEWAY, port, servername: sniFor(9080, '', REVIEWS), ca: cert.certPem, checkServerIdentity: () => undefined });
  client.on('error', () => {});
  await once(client, 'secureConnect');
  client.write('hello');
  await once(client, 'data');
  return client;
}

function echo(client: tls.TLSSocket, text: string): Promise<string> {
  client.write(text);
  return once(client, 'data').then(([d]) => String(d));
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = tls.connect({ host: GATEWAY, port, servername: sniFor(9080, '', REVIEWS), ca: cert.certPem, checkServerIdentity: () => undefined });
    c.once('secureConnect', () => {
      c.destroy();
      resolve('connected');
    });
    c.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
  });
}

const DRAIN = [
  { name: 'a connection still open at the end of the drain is closed then', graceMs: 400, clientCloses: false },
  { name: 'a connection that ends by itself lets the drain finish early', graceMs: 30_000, clientCloses: true },
] as const;

for (const row of DRAIN) {
  test.serial(`drain: new connections refused at once, open ones keep flowing; ${row.name}`, async (t) => {
    const { plane, port } = await startPlane(t);
    const client = await openEchoing(port);
    try {
      const closed = once(client, 'close');
      const drained = plane.drain(row.graceMs);
      t.regex(await connectOutcome(port), /^error (ECONNREFUSED|ECONNRESET)/, 'no new connection during the drain');
      t.is(await echo(client, 'still flowing'), 'still flowing', 'the open connection is untouched');
      if (row.clientCloses) client.end();
      await drained;
      await closed;
      // With a 30 s drain duration, the test (10 s timeout) passes only if the drain ended with the connection.
      t.is(plane.connections(), 0, 'every passthrough connection is gone');
    } finally {
      client.destroy();
    }
  });
}

const OPTIONS = [
  { name: 'idle timeout and connection limit', input: { idleTimeoutMs: 5000, maxConnections: 10 }, error: undefined },
  { name: 'a zero idle timeout', input: { idleTimeoutMs: 0 }, error: 'invalid idleTimeoutMs: expected a positive integer' },
  { name: 'a fractional connection limit', input: { maxConnections: 1.5 }, error: 'invalid maxConnections: expected a positive integer' },
] as const;

for (const row of OPTIONS) {
  test(`gateway options: ${row.name}`, (t) => {
    const input = { cluster: 'west', address: GATEWAY, xds: { target: '127.186.1.2:15010' }, ...row.input };
    if (row.error === undefined) t.like(validateGatewayOptions(input), row.input);
    else t.is(t.throws(() => validateGatewayOptions(input))?.message, row.error);
  });
}

test.serial('startGateway drain: /ready says DRAINING at once while connections run out, then everything closes', async (t) => {
  const gw = await startGateway({ cluster: 'west', address: GATEWAY, port: 0, ports: { admin: 0, metrics: 0 }, xds: { target: `${GATEWAY}:1` }, helloTimeoutMs: 20_000, logger });
  // A connection that has not sent its ClientHello yet: open until the drain ends it.
  const sock = net.connect({ host: GATEWAY, port: gw.port });
  sock.on('error', () => {});
  await once(sock, 'connect');
  const closed = once(sock, 'close');
  const drained = gw.drain(300);
  const ready = await fetch(`http://${GATEWAY}:${gw.adminPort}/ready`);
  t.is(ready.status, 503);
  t.is(await ready.text(), 'DRAINING\n');
  t.false(sock.destroyed, 'the open connection runs while draining');
  await drained;
  await closed;
  await t.throwsAsync(fetch(`http://${GATEWAY}:${gw.adminPort}/ready`), undefined, 'admin closed after the drain');
});
