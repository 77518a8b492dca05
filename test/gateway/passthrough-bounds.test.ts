import { once } from 'node:events';
import tls from 'node:tls';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { createGatewayDataPlane, type GatewayDataPlane } from '../../src/gateway/data-plane.ts';
import { sniFor } from '../../src/xds/naming.ts';
import { reviewsGatewayConfig, startEchoBackend } from './gateway-config-fixture.ts';
import { type SelfSigned, selfSigned } from './tls-fixtures.ts';

/**
 * Bounds of the east-west gateway's SNI passthrough (issue 8 §4): an idle timeout on routed
 * connections (Envoy tcp_proxy `idle_timeout`) and a connection limit (case 31), each counted.
 * This file owns 127.162.2.0/24: the gateway at .1, the reviews TLS backend at .11:15006.
 */
const GATEWAY = '127.162.2.1';
const POD = '127.162.2.11';
const REVIEWS = 'reviews.default.svc.cluster.local';
const IDLE_MS = 300;
const MAX_CONNECTIONS = 2;
const logger = createLogger('gateway-bounds-test');
logger.level = 'silent';

let cert: SelfSigned;
let backend: tls.Server;
let plane: GatewayDataPlane;
let port = 0;


test.before(async () => {
  cert = selfSigned('backend');
  // An echo backend that never closes on its own: only the gateway's bounds end a connection.
  backend = await startEchoBackend(POD, cert);
  plane = createGatewayDataPlane({ address: GATEWAY, port: 0, cluster: 'west', logger, idleTimeoutMs: IDLE_MS, maxConnections: MAX_CONNECTIONS });
  plane.applyConfig(reviewsGatewayConfig(GATEWAY, POD));
  port = await plane.listen();
});

test.after.always(async () => {
  await plane?.close();
  await new Promise<void>((r) => backend.close(() => r()));
});

async function counter(name: string): Promise<number> {
  const m = (await plane.metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values[0]?.value;
  return typeof v === 'number' ? v : 0;
}

/** A TLS connection through the gateway that has echoed `hello` back once. */
async function openEchoing(): Promise<tls.TLSSocket> {
  const client = tls.connect({ host: GATEWAY, port, servername: sniFor(9080, '', REVIEWS), ca: cert.certPem, checkServerIdentity: () => undefined });
  client.on('error', () => {});
  await once(client, 'secureConnect');
  client.write('hello');
  await once(client, 'data');
  return client;
}

test.serial('a routed passthrough connection idle past idleTimeoutMs is closed, and counted', async (t) => {
  const before = await counter('envoy_tcp_eastwestgateway_idle_timeout');
  const client = await openEchoing();
  try {
    await once(client, 'close');
    t.true(client.destroyed);
    t.is(await counter('envoy_tcp_eastwestgateway_idle_timeout'), before + 1);
  } finally {
    client.destroy();
  }
});

test.serial('past maxConnections the next connection is refused; open ones keep echoing (case 31)', async (t) => {
  const open = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, () => openEchoing()));
  try {
    const extra = tls.connect({ host: GATEWAY, port, servername: sniFor(9080, '', REVIEWS), ca: cert.certPem, checkServerIdentity: () => undefined });
    const outcome = await new Promise<string>((resolve) => {
      extra.once('secureConnect', () => resolve('connected'));
      extra.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
      extra.once('close', () => resolve('closed'));
    });
    extra.destroy();
    t.not(outcome, 'connected');
    for (const c of open) {
      c.write('again');
      const [d] = (await once(c, 'data')) as [Buffer];
      t.is(d.toString(), 'again');
    }
    t.is(await counter('envoy_listener_eastwestgateway_downstream_cx_overflow'), 1);
  } finally {
    for (const c of open) c.destroy();
  }
});
