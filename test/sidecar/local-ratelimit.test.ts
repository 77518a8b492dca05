/**
 * Envoy's local rate limit filter through a real sidecar data plane, configured over the wire: a
 * test ADS server serves raw Envoy resources (the filter on the outbound HCM with listener-level
 * settings, and a route's own `typed_per_filter_config`), meshfed's AdsClient validates them and
 * the data plane runs them. Limited requests get 429 with `x-envoy-ratelimited`, the flag RL in
 * istio_requests_total and in the access log sent to a fake Mixer, and the filter's Envoy stats.
 * The checks count accepted requests in bursts, never time them.
 *
 * Loopback block 127.69.20.x: Mixer 127.69.20.1:15012, the sidecar 127.69.20.2, the app
 * 127.69.20.3:8080, the ADS server 127.69.20.254 (port 0).
 */
import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { pino } from 'pino';
import { AdsServer } from '../../src/pilot/ads/index.ts';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { AdsClient } from '../../src/xds/index.ts';
import { LISTENER, ROUTE_OUTBOUND } from '../../src/xds/naming.ts';
import { serviceClient } from '../../src/xds/protos.ts';
import type { Listener, RouteConfiguration } from '../../src/xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { waitFor } from '../xds/support/ads-harness.ts';
import { edsCluster, loadAssignment, TestGenerator, type TestSnapshot } from '../xds/support/fixtures.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { closeHttp, httpRequest, listenOn } from './support-config.ts';

const MIXER = '127.69.20.1';
const SIDECAR = '127.69.20.2';
const APP = '127.69.20.3';
const CLUSTER = 'outbound|8080||legacy.default.svc.cluster.local';
const logger = pino({ level: 'silent' });
const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' } };

const listener: Listener = {
  '@type': TYPE_URL.listener,
  name: LISTENER.virtualOutbound,
  address: { socket_address: { address: SIDECAR, port_value: 15001 } },
  traffic_direction: 'OUTBOUND',
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': TYPED_CONFIG.httpConnectionManager,
            stat_prefix: 'outbound',
            rds: { route_config_name: ROUTE_OUTBOUND, config_source: { ads: {} } },
            http_filters: [
              {
                name: 'envoy.filters.http.local_ratelimit',
                typed_config: {
                  '@type': TYPED_CONFIG.localRateLimit,
                  stat_prefix: 'listener_rl',
                  token_bucket: { max_tokens: 3, fill_interval: { seconds: '3600' } },
                  filter_enabled: ALWAYS,
                  filter_enforced: ALWAYS,
                },
              },
              { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } },
            ],
          },
        },
      ],
    },
  ],
};

const routes: RouteConfiguration = {
  '@type': TYPE_URL.route,
  name: ROUTE_OUTBOUND,
  virtual_hosts: [
    {
      name: 'legacy',
      domains: ['legacy'],
      routes: [
        {
          name: 'limited',
          match: { prefix: '/limited' },
          route: { cluster: CLUSTER },
          typed_per_filter_config: {
            'envoy.filters.http.local_ratelimit': {
              '@type': TYPED_CONFIG.localRateLimit,
              stat_prefix: 'route_rl',
              token_bucket: { max_tokens: 5, tokens_per_fill: { value: 2 }, fill_interval: { seconds: '6' } },
              filter_enabled: ALWAYS,
              filter_enforced: ALWAYS,
              response_headers_to_add: [{ header: { key: 'x-limited-by', value: 'route' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
            },
          },
        },
        {
          name: 'shadow',
          match: { prefix: '/shadow' },
          route: { cluster: CLUSTER },
          typed_per_filter_config: {
            'envoy.filters.http.local_ratelimit': {
              '@type': TYPED_CONFIG.localRateLimit,
              stat_prefix: 'shadow_rl',
              token_bucket: { max_tokens: 1, fill_interval: { seconds: '3600' } },
              filter_enabled: ALWAYS,
            },
          },
        },
        { name: 'default', match: { prefix: '/' }, route: { cluster: CLUSTER } },
      ],
    },
  ],
};

interface AlsEntry {
  common_properties?: { response_flags?: { rate_limited?: boolean } };
  response?: { response_code?: { value?: number } };
  request?: { path?: string };
}

let ca: TestCa;
let plane: DataPlane;
let client: AdsClient;
const cleanups: (() => void)[] = [];
const logged: AlsEntry[] = [];
const app = http.createServer((req, res) => res.end(`app ${req.url}`));

test.before(async () => {
  ca = await createTestCa('east');
  const mixer = new grpc.Server();
  mixer.addService(serviceClient('envoy.service.accesslog.v3.AccessLogService').service, {
    StreamAccessLogs: (call: grpc.ServerReadableStream<{ http_logs?: { log_entry?: AlsEntry[] } }, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      call.on('data', (m: { http_logs?: { log_entry?: AlsEntry[] } }) => logged.push(...(m.http_logs?.log_entry ?? [])));
      call.on('end', () => cb(null, {}));
      call.on('error', () => undefined);
    },
  });
  cleanups.push(() => mixer.forceShutdown());
  await new Promise<void>((resolve, reject) => mixer.bindAsync(`${MIXER}:15012`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  await listenOn(app, APP, 8080);

  const gen = new TestGenerator();
  gen.set(TYPE_URL.listener, [listener]);
  gen.set(TYPE_URL.route, [routes]);
  gen.set(TYPE_URL.cluster, [edsCluster(CLUSTER)]);
  gen.set(TYPE_URL.endpoint, [loadAssignment(CLUSTER, [[APP, 8080]])]);
  const ads = new AdsServer<TestSnapshot>({ generate: gen.generate, snapshot: gen.snapshot(), logger });
  const server = new grpc.Server();
  ads.addTo(server);
  cleanups.push(() => {
    ads.close();
    server.forceShutdown();
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.69.20.254:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );

  plane = await createDataPlane({
    workload: { name: 'productpage-v1', namespace: 'default', serviceAccount: 'productpage', cluster: 'east', address: SIDECAR, labels: {} },
    certificates: new StaticCertificateSource(ca.issue('default', 'productpage')),
    accessLog: { target: `${MIXER}:15012`, credentials: grpc.credentials.createInsecure(), flushIntervalMs: 50 },
    logger,
  });
  client = new AdsClient({
    target: `127.69.20.254:${port}`,
    credentials: grpc.credentials.createInsecure(),
    node: { type: 'sidecar', ip: SIDECAR, workload: 'productpage-v1', namespace: 'default', cluster: 'east', serviceAccount: 'productpage', labels: {} },
    logger,
  });
  const nacks: string[] = [];
  client.on('nack', (typeUrl: string, errors: string[]) => nacks.push(`${typeUrl}: ${errors.join('; ')}`));
  client.start();
  await waitFor(() => client.ready() || nacks.length > 0, 'the sidecar config');
  if (nacks.length > 0) throw new Error(`the sidecar NACKed: ${nacks.join(' | ')}`);
  const applied = await plane.applyConfig(client.current());
  if (!applied.ok) throw applied.errors[0];
});

test.after.always(async () => {
  client?.close();
  await plane?.close();
  await closeHttp(app);
  for (const c of cleanups) c();
  await ca?.dispose();
});

const outbound = { host: SIDECAR, port: 15001 };

/** `n` concurrent requests to `path`; resolves with their statuses and replies. */
function burst(path: string, n: number) {
  return Promise.all(Array.from({ length: n }, (_, i) => httpRequest(outbound, { path: `${path}/${i}`, headers: { host: 'legacy' } })));
}

async function metrics(): Promise<string> {
  return (await fetch(`${plane.urls.metrics}/stats/prometheus`)).text();
}

function counter(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

test.serial('a route bucket of 5 lets exactly 5 of a burst of 12 through, rejects 7 with 429 RL, and refills 2 per interval', async (t) => {
  const first = await burst('/limited', 12);
  const ok = first.filter((r) => r.status === 200);
  const limited = first.filter((r) => r.status === 429);
  t.log(`first burst: ${ok.length} accepted, ${limited.length} limited`);
  t.is(ok.length, 5);
  t.is(limited.length, 7);
  for (const r of limited) {
    t.is(r.headers['x-envoy-ratelimited'], 'true');
    t.is(r.headers['x-limited-by'], 'route');
    t.is(r.headers['x-meshfed-response-flags'], 'RL');
    t.is(r.body, 'local_rate_limited\n');
  }
  t.true(ok.every((r) => r.body.startsWith('app /limited/') && r.headers['x-envoy-ratelimited'] === undefined));

  let m = await metrics();
  t.regex(m, /istio_requests_total\{[^}]*response_code="429",response_flags="RL"[^}]*\} 7/);
  t.is(counter(m, 'envoy_route_rl_http_local_rate_limit_enabled'), 12);
  t.is(counter(m, 'envoy_route_rl_http_local_rate_limit_ok'), 5);
  t.is(counter(m, 'envoy_route_rl_http_local_rate_limit_rate_limited'), 7);
  t.is(counter(m, 'envoy_route_rl_http_local_rate_limit_enforced'), 7);

  // The bucket was created by the burst's first request and fills every 6 s: after one interval
  // (and well before the second) exactly tokens_per_fill = 2 tokens are back. The interval is long
  // so that a burst slowed by a loaded machine still falls inside one interval.
  await new Promise((r) => setTimeout(r, 6500));
  const second = await burst('/limited', 12);
  t.log(`after one fill interval: ${second.filter((r) => r.status === 200).length} accepted`);
  t.is(second.filter((r) => r.status === 200).length, 2);
  t.is(second.filter((r) => r.status === 429).length, 10);
  m = await metrics();
  t.is(counter(m, 'envoy_route_rl_http_local_rate_limit_ok'), 7);

  await waitFor(() => logged.filter((e) => e.request?.path?.startsWith('/limited/') === true).length >= 24, 'the access log entries');
  const entries = logged.filter((e) => e.request?.path?.startsWith('/limited/') === true);
  t.is(entries.filter((e) => e.response?.response_code?.value === 429 && e.common_properties?.response_flags?.rate_limited === true).length, 17);
  t.is(entries.filter((e) => e.response?.response_code?.value === 200 && e.common_properties?.response_flags?.rate_limited !== true).length, 7);
});

test.serial('routes without their own config share the listener-level bucket (3 tokens)', async (t) => {
  const replies = await burst('/other', 6);
  t.deepEqual(replies.map((r) => r.status).sort(), [200, 200, 200, 429, 429, 429]);
  const m = await metrics();
  t.is(counter(m, 'envoy_listener_rl_http_local_rate_limit_ok'), 3);
  t.is(counter(m, 'envoy_listener_rl_http_local_rate_limit_enforced'), 3);
});

test.serial('enabled but not enforced: over-limit requests are counted as rate_limited and still served', async (t) => {
  const replies = await burst('/shadow', 4);
  t.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200]);
  const m = await metrics();
  t.is(counter(m, 'envoy_shadow_rl_http_local_rate_limit_ok'), 1);
  t.is(counter(m, 'envoy_shadow_rl_http_local_rate_limit_rate_limited'), 3);
  t.is(counter(m, 'envoy_shadow_rl_http_local_rate_limit_enforced'), 0);
});
