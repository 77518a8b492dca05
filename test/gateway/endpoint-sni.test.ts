import { once } from 'node:events';
import tls from 'node:tls';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { createGatewayDataPlane, type GatewayDataPlane } from '../../src/gateway/data-plane.ts';
import type { ProxyConfig } from '../../src/xds/config-types.ts';
import { endpointIdOf, endpointSniFor, sniFor } from '../../src/xds/naming.ts';
import { gatewayConfig, REVIEWS_EXPORT } from './gateway-config-fixture.ts';
import { type SelfSigned, selfSigned } from './tls-fixtures.ts';

/**
 * The east-west gateway with the config Pilot generates for it (generator → wire → validator →
 * data plane): an endpoint-qualified SNI reaches exactly the endpoint it names, the service SNI
 * any of them, and anything else is refused.
 *
 * This file owns 127.68.1.0/24: the gateways at .1 and .2, reviews-w1 at .11, reviews-w2 at .12 and
 * ratings-w1 at .13, each TLS backend on the sidecar inbound port 15006.
 */
const GATEWAY = '127.68.1.1';
const PODS = { 'reviews-w1': '127.68.1.11', 'reviews-w2': '127.68.1.12', 'ratings-w1': '127.68.1.13' } as const;
const REVIEWS = 'reviews.default.svc.cluster.local';
const logger = createLogger('gateway-endpoint-sni-test');
logger.level = 'silent';

let cert: SelfSigned;
const backends: tls.Server[] = [];
let plane: GatewayDataPlane;
let port = 0;

/** west's snapshot: reviews (exported) on w1 (version v1) and w2 (v2), ratings (not exported) on w1; `extra` YAML. */
function westConfig(extra = ''): ProxyConfig {
  return gatewayConfig(GATEWAY, (b) => {
    b.workload('reviews-w1', 'reviews', 9080, { address: PODS['reviews-w1'], labels: { app: 'reviews', version: 'v1' } });
    b.workload('reviews-w2', 'reviews', 9080, { address: PODS['reviews-w2'], labels: { app: 'reviews', version: 'v2' } });
    b.workload('ratings-w1', 'ratings', 9080, { address: PODS['ratings-w1'] });
    b.yaml(REVIEWS_EXPORT);
    if (extra) b.yaml(extra);
  });
}

test.before(async () => {
  cert = selfSigned('backend');
  for (const [name, address] of Object.entries(PODS)) {
    const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem }, (sock) => {
      sock.on('error', () => {});
      sock.end(name);
    });
    server.on('tlsClientError', () => {});
    server.listen(15006, address);
    await once(server, 'listening');
    backends.push(server);
  }
  plane = createGatewayDataPlane({ address: GATEWAY, port: 0, cluster: 'west', logger });
  plane.applyConfig(westConfig());
  port = await plane.listen();
});

test.after.always(async () => {
  await plane?.close();
  await Promise.all(backends.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** Opens TLS through the gateway with `servername`; resolves with the backend's name, or `error …`. */
async function dial(servername: string, at = { host: GATEWAY, port: 0 }): Promise<string> {
  const client = tls.connect({ host: at.host, port: at.port || port, servername, ca: cert.certPem, checkServerIdentity: () => undefined });
  try {
    return await new Promise<string>((resolve) => {
      let body = '';
      client.on('data', (d: Buffer) => {
        body += d.toString();
      });
      client.once('end', () => resolve(body === '' ? 'error closed without a reply' : body));
      client.once('error', (e: Error & { code?: string }) => resolve(`error ${e.code ?? e.message}`));
    });
  } finally {
    client.destroy();
  }
}

async function refusals(reason: string): Promise<number> {
  const metric = (await plane.metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'meshfed_gateway_refused_total');
  const v = metric?.values.find((x) => x.labels['reason'] === reason);
  return typeof v?.value === 'number' ? v.value : 0;
}

test.serial('an endpoint-qualified SNI always reaches the endpoint it names', async (t) => {
  for (const workload of ['reviews-w1', 'reviews-w2'] as const) {
    const sni = endpointSniFor(endpointIdOf('west', 'default', workload), 9080, '', REVIEWS);
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(await dial(sni));
    t.deepEqual(seen, new Array<string>(6).fill(workload), sni);
  }
});

test.serial('the plain service SNI still works and the gateway spreads it over both endpoints', async (t) => {
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(await dial(sniFor(9080, '', REVIEWS)));
  t.log(seen.join(' '));
  t.deepEqual([...new Set(seen)].sort(), ['reviews-w1', 'reviews-w2']);
});

test.serial('refused: an unknown endpoint id, an endpoint of a service that is not exported, a forged mix', async (t) => {
  const unknown = endpointSniFor('0123456789abcdef', 9080, '', REVIEWS);
  t.regex(await dial(unknown), /^error .*(UNRECOGNIZED_NAME|ECONNRESET|closed)/i);
  t.is(await refusals('unknown_endpoint'), 1, 'counted as an unknown endpoint of a served service');
  const ratings = endpointSniFor(endpointIdOf('west', 'default', 'ratings-w1'), 9080, '', 'ratings.default.svc.cluster.local');
  t.regex(await dial(ratings), /^error /);
  // reviews-w1's id under another port: no chain either.
  const otherPort = endpointSniFor(endpointIdOf('west', 'default', 'reviews-w1'), 9081, '', REVIEWS);
  t.regex(await dial(otherPort), /^error /);
  t.is(await refusals('unknown_sni'), 2);
});

test.serial('a qualified SNI whose endpoint is down fails alone (UF); the other endpoint keeps answering', async (t) => {
  const w1 = backends[0];
  if (!w1) throw new Error('fixture');
  await new Promise<void>((r) => w1.close(() => r()));
  try {
    const down = endpointSniFor(endpointIdOf('west', 'default', 'reviews-w1'), 9080, '', REVIEWS);
    const up = endpointSniFor(endpointIdOf('west', 'default', 'reviews-w2'), 9080, '', REVIEWS);
    t.regex(await dial(down), /^error /);
    t.is(await dial(up), 'reviews-w2');
  } finally {
    w1.listen(15006, PODS['reviews-w1']);
    await once(w1, 'listening');
  }
  t.is(await dial(endpointSniFor(endpointIdOf('west', 'default', 'reviews-w1'), 9080, '', REVIEWS)), 'reviews-w1');
});


test.serial('the gateway balances a service SNI with the DestinationRule’s locality priorities, through the shared cluster layer', async (t) => {
  const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failoverPriority: [version=v2]}}
    outlierDetection: {consecutiveGatewayErrors: 1, consecutive5xxErrors: 0, interval: 1s, baseEjectionTime: 30s}
`;
  const second = createGatewayDataPlane({ address: '127.68.1.2', port: 0, cluster: 'west', logger });
  t.teardown(() => second.close());
  second.applyConfig(westConfig(dr));
  const at = { host: '127.68.1.2', port: await second.listen() };
  const service = sniFor(9080, '', REVIEWS);
  const preferred: string[] = [];
  for (let i = 0; i < 6; i++) preferred.push(await dial(service, at));
  t.deepEqual(preferred, new Array<string>(6).fill('reviews-w2'), 'priority 0 (version v2) takes every connection');
  const w2 = backends[1];
  if (!w2) throw new Error('fixture');
  await new Promise<void>((r) => w2.close(() => r()));
  try {
    const first = await dial(service, at);
    t.log(`reviews-w2 down, first connection: ${first}`);
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push(await dial(service, at));
    t.deepEqual(after, new Array<string>(6).fill('reviews-w1'), 'the failed host is ejected and priority 1 takes over');
    const ejected = second.clusterStats().find((c) => c.name === service)?.hosts.filter((h) => h.ejected).map((h) => h.address);
    t.deepEqual(ejected, [`${PODS['reviews-w2']}:9080/15006`]);
  } finally {
    w2.listen(15006, PODS['reviews-w2']);
    await once(w2, 'listening');
  }
});
