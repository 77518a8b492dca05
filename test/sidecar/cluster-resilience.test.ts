import http from 'node:http';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import type { ClusterConfig, RetryPolicyConfig } from '../../src/xds/config-types.ts';
import { outboundClusterName, ROUTE_OUTBOUND, serviceHostname } from '../../src/xds/naming.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { closeHttp, endpoint, httpRequest, listenOn, outboundListener, proxyConfig, route } from './support-config.ts';

/**
 * The cluster layer end to end, through a real sidecar data plane and real sockets: outlier
 * detection ejects a backend that answers 503, and a circuit breaker refuses a second concurrent
 * request with UO, and retries leave a failing priority with previous_priorities. This file owns
 * 127.78.1.0/24.
 */
const CLIENT = '127.78.1.1';
const BACKENDS = ['127.78.1.2', '127.78.1.3', '127.78.1.4'];
const APP_PORT = 9080;
const RATINGS = serviceHostname('ratings', 'default');
const SLOW = serviceHostname('slow', 'default');
const RATINGS_CLUSTER = outboundClusterName(APP_PORT, '', RATINGS);
const SLOW_CLUSTER = outboundClusterName(APP_PORT, '', SLOW);
const FAILOVER = serviceHostname('failover', 'default');
const FAILOVER_CLUSTER = outboundClusterName(APP_PORT, '', FAILOVER);
/** What Pilot writes for retries {attempts: 2, retryOn: 5xx}, with retryRemoteLocalities or without. */
const retryPolicy = (remoteLocalities: boolean): RetryPolicyConfig => ({
  retryOn: new Set(['5xx']),
  numRetries: 2,
  retriableStatusCodes: [],
  avoidPreviousHosts: true,
  hostSelectionRetryMaxAttempts: 5,
  ...(remoteLocalities ? { previousPrioritiesUpdateFrequency: 1 } : {}),
});
const logger = pino({ level: 'silent' });

let ca: TestCa;
let plane: DataPlane;
const held: (() => void)[] = [];
const heldWaiters: (() => void)[] = [];
const backends = BACKENDS.map((host, i) =>
  http.createServer((req, res) => {
    if (req.url === '/slow') {
      held.push(() => res.end('slow done'));
      for (const w of heldWaiters.splice(0)) w();
      return;
    }
    // The first backend is broken.
    res.writeHead(i === 0 ? 503 : 200, { 'content-type': 'text/plain' });
    res.end(host);
  }),
);

const plainCluster = (name: string, extra: Partial<ClusterConfig>): ClusterConfig => ({
  name,
  type: 'EDS',
  edsServiceName: name,
  lbPolicy: 'ROUND_ROBIN',
  connectTimeoutMs: 1000,
  ...extra,
});

test.before(async () => {
  ca = await createTestCa('east');
  await Promise.all(backends.map((b, i) => listenOn(b, BACKENDS[i] ?? '', APP_PORT)));
  plane = await createDataPlane({
    workload: { name: 'productpage-v1', namespace: 'default', serviceAccount: 'productpage', cluster: 'east', address: CLIENT, labels: { app: 'productpage' } },
    certificates: new StaticCertificateSource(ca.issue('default', 'productpage')),
    logger,
  });
  const applied = await plane.applyConfig(
    proxyConfig({
      listeners: [outboundListener(CLIENT)],
      routes: [
        {
          name: ROUTE_OUTBOUND,
          virtualHosts: [
            { name: 'ratings', domains: ['ratings'], routes: [route('default', RATINGS_CLUSTER)] },
            { name: 'slow', domains: ['slow'], routes: [route('default', SLOW_CLUSTER)] },
            { name: 'failover', domains: ['failover'], routes: [route('default', FAILOVER_CLUSTER, { retry: retryPolicy(true) })] },
            { name: 'stay', domains: ['stay'], routes: [route('default', FAILOVER_CLUSTER, { retry: retryPolicy(false) })] },
          ],
        },
      ],
      clusters: [
        // What Pilot writes for outlierDetection {consecutive5xxErrors: 3}.
        plainCluster(RATINGS_CLUSTER, {
          outlierDetection: {
            consecutive5xx: 3,
            enforcingConsecutive5xx: 100,
            consecutiveGatewayFailure: 5,
            enforcingConsecutiveGatewayFailure: 0,
            intervalMs: 10_000,
            baseEjectionTimeMs: 30_000,
            maxEjectionPercent: 10,
          },
          healthyPanicThresholdPercent: 0,
        }),
        // What Pilot writes for connectionPool.http.http2MaxRequests: 1.
        plainCluster(SLOW_CLUSTER, { circuitBreakers: { maxConnections: 0xffffffff, maxPendingRequests: 0xffffffff, maxRequests: 1, maxRetries: 0xffffffff } }),
        // The local locality (P0) answers 503; the remote one (P1) works.
        plainCluster(FAILOVER_CLUSTER, {}),
      ],
      endpoints: [
        { clusterName: RATINGS_CLUSTER, endpoints: BACKENDS.map((h) => endpoint(h, APP_PORT)) },
        { clusterName: SLOW_CLUSTER, endpoints: [endpoint(BACKENDS[1] ?? '', APP_PORT)] },
        { clusterName: FAILOVER_CLUSTER, endpoints: [endpoint(BACKENDS[0] ?? '', APP_PORT), endpoint(BACKENDS[2] ?? '', APP_PORT, { priority: 1 })] },
      ],
    }),
  );
  if (!applied.ok) throw applied.errors[0];
});

test.after.always(async () => {
  for (const release of held.splice(0)) release();
  await plane?.close();
  await Promise.all(backends.map((b) => closeHttp(b)));
  await ca?.dispose();
});

const outbound = { host: CLIENT, port: 15001 };

test.serial('outlier detection: after 3 consecutive 503s the broken backend is ejected and the others take the traffic', async (t) => {
  const byBackend = new Map<string, number>();
  const statuses: number[] = [];
  for (let i = 0; i < 60; i++) {
    const r = await httpRequest(outbound, { path: `/r/${i}`, headers: { host: 'ratings' } });
    statuses.push(r.status);
    const who = r.status === 200 ? r.body : `${r.status}`;
    byBackend.set(who, (byBackend.get(who) ?? 0) + 1);
  }
  t.log(`responses by backend: ${JSON.stringify(Object.fromEntries(byBackend))}`);
  t.is(byBackend.get('503'), 3, 'exactly the three 503s that trigger the ejection');
  t.is(statuses.lastIndexOf(503) < 9, true, 'the last 503 comes within the first round-robin rounds');
  t.is((byBackend.get(BACKENDS[1] ?? '') ?? 0) + (byBackend.get(BACKENDS[2] ?? '') ?? 0), 57);
  const host = plane.clusterStats().find((c) => c.name === RATINGS_CLUSTER)?.hosts.find((h) => h.address === `${BACKENDS[0]}:${APP_PORT}`);
  t.like(host, { ejected: true, ejections: { consecutive5xx: 1, consecutiveGatewayFailure: 0 } });
});

test.serial('circuit breaker: with http2MaxRequests 1, a second concurrent request gets 503 UO; the slot frees when the first ends', async (t) => {
  const waitHeld = new Promise<void>((resolve) => heldWaiters.push(resolve));
  const first = httpRequest(outbound, { path: '/slow', headers: { host: 'slow' } });
  await waitHeld;
  const second = await httpRequest(outbound, { path: '/fast', headers: { host: 'slow' } });
  t.is(second.status, 503);
  t.is(second.headers['x-meshfed-response-flags'], 'UO');
  for (const release of held.splice(0)) release();
  const done = await first;
  t.is(done.status, 200);
  t.is(done.body, 'slow done');
  // The first request's slot is released when its response closes.
  let third = await httpRequest(outbound, { path: '/fast', headers: { host: 'slow' } });
  for (let i = 0; i < 50 && third.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    third = await httpRequest(outbound, { path: '/fast', headers: { host: 'slow' } });
  }
  t.is(third.status, 200);
  t.is(plane.clusterStats().find((c) => c.name === SLOW_CLUSTER)?.overflows.max_requests, 1);
});

test.serial('retryRemoteLocalities (previous_priorities): a retry leaves the failing local priority; without it retries stay local', async (t) => {
  const away = await httpRequest(outbound, { path: '/failover', headers: { host: 'failover' } });
  t.is(away.status, 200);
  t.is(away.body, BACKENDS[2] ?? '', 'the retry went to the P1 backend');
  const stay = await httpRequest(outbound, { path: '/stay', headers: { host: 'stay' } });
  t.is(stay.status, 503, 'P0 is healthy by count, so every try stays there and the last 503 is relayed');
  t.is(stay.body, BACKENDS[0] ?? '');
});
