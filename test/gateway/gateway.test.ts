import net from 'node:net';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { GatewayOptionsError, gatewayNode, startGateway } from '../../src/gateway/index.ts';

// This file owns 127.62.3.0/24.
const ADDRESS = '127.62.3.1';
const logger = createLogger('gateway-test');
logger.level = 'silent';

/** A port on ADDRESS where nothing listens: Pilot is down. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, ADDRESS, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('without Pilot the gateway serves admin and metrics, is not ready, and refuses every SNI', async (t) => {
  const gw = await startGateway({
    cluster: 'east',
    address: ADDRESS,
    port: 0,
    ports: { admin: 0, metrics: 0 },
    xds: { target: `${ADDRESS}:${await deadPort()}` },
    logger,
  });
  try {
    const ready = await fetch(`http://${ADDRESS}:${gw.adminPort}/ready`);
    t.is(ready.status, 503);
    const dump = (await (await fetch(`http://${ADDRESS}:${gw.adminPort}/config_dump`)).json()) as Record<string, unknown>;
    t.deepEqual(dump['sniRoutes'], []);
    t.deepEqual(dump['listeners'], []);

    const sock = net.connect({ host: ADDRESS, port: gw.port });
    sock.on('error', () => {});
    sock.resume();
    sock.end('not tls');
    await new Promise((r) => sock.once('close', r));
    const metrics = await (await fetch(`http://${ADDRESS}:${gw.metricsPort}/stats/prometheus`)).text();
    t.regex(metrics, /meshfed_gateway_refused_total\{reason="invalid_hello"\} 1/);
    t.is((await fetch(`http://${ADDRESS}:${gw.metricsPort}/nope`)).status, 404);
  } finally {
    await gw.close();
  }
  const refused = net.connect({ host: ADDRESS, port: gw.port });
  const err = await new Promise<unknown>((r) => refused.once('error', r));
  t.is((err as { code?: string }).code, 'ECONNREFUSED');
});

test('the gateway identifies itself to Pilot as Istio\'s east-west gateway router', (t) => {
  t.deepEqual(gatewayNode('west', '127.62.3.9'), {
    type: 'router',
    ip: '127.62.3.9',
    workload: 'istio-eastwestgateway',
    namespace: 'istio-system',
    cluster: 'west',
    serviceAccount: 'istio-eastwestgateway',
    labels: { istio: 'eastwestgateway', 'topology.istio.io/network': 'west' },
  });
});

const BAD_OPTIONS: [string, Record<string, unknown>, RegExp][] = [
  ['an empty cluster', { cluster: '' }, /invalid cluster/],
  ['a port out of range', { port: 70000 }, /invalid port/],
  ['a negative admin port', { ports: { admin: -1 } }, /invalid ports\.admin/],
  ['an xds without target', { xds: {} }, /invalid xds\.target/],
  ['an unknown xds.apiType', { xds: { target: '127.0.0.1:1', apiType: 'REST' } }, /invalid xds\.apiType: must be one of GRPC, DELTA_GRPC/],
];

for (const [name, override, message] of BAD_OPTIONS) {
  test(`startGateway rejects ${name}`, async (t) => {
    const opts = { cluster: 'east', address: ADDRESS, port: 0, xds: { target: `${ADDRESS}:1` }, logger, ...override };
    const err = await t.throwsAsync(startGateway(opts as Parameters<typeof startGateway>[0]), { instanceOf: GatewayOptionsError, message });
    t.is(err?.code, 'GATEWAY_OPTIONS_INVALID');
  });
}

test('a taken port is reported and nothing is left running', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((r) => holder.listen(0, ADDRESS, r));
  const taken = (holder.address() as net.AddressInfo).port;
  try {
    const err = await t.throwsAsync(
      startGateway({ cluster: 'east', address: ADDRESS, port: 0, ports: { admin: 0, metrics: taken }, xds: { target: `${ADDRESS}:1` }, logger }),
    );
    t.is((err as { code?: string }).code, 'GATEWAY_LISTEN_FAILED');
  } finally {
    await new Promise((r) => holder.close(r));
  }
});
