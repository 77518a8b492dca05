import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { startEchoGrpc } from '../../src/cli/apps/echo-grpc.ts';
import { httpAccessLogEntry } from '../../src/sidecar/index.ts';
import { serviceClient } from '../../src/xds/protos.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { match, meshCluster, route } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * gRPC through a sidecar pair with a real @grpc/grpc-js client and the echo-grpc app: grpc-js →
 * h2c → outbound sidecar 127.65.2.1:15001 → mesh mTLS h2 → inbound sidecar 127.65.2.2:15006 →
 * h2c (the inbound cluster carries http2_protocol_options) → echo-grpc at 127.65.2.2:9090.
 * Block 127.65.2.0/24.
 */
const CLIENT = '127.65.2.1';
const SERVER = '127.65.2.2';
const APP_PORT = 9090;

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): Record<string, unknown> => JSON.parse(b.toString('utf8')) as Record<string, unknown>,
};

let app: grpc.Server;
let pair: SidecarPair;
let client: grpc.Client;

test.before(async () => {
  app = await startEchoGrpc({ cluster: 'east', namespace: 'default', workload: 'echo-grpc-v1', service: 'echo-grpc', version: 'v1' }, SERVER, APP_PORT);
  const empty = { ...meshCluster('nobody', 'default', APP_PORT), healthyPanicThresholdPercent: 0 };
  pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'echo-grpc',
    appPort: APP_PORT,
    inbound: (c) => ({ ...c, upstreamHttp2: { allowConnect: false } }),
    outboundFilters: [{ name: 'envoy.filters.http.fault', typeUrl: TYPED_CONFIG.fault }],
    extraClusters: [empty],
    routes: (cluster) => [
      route('abort', cluster, { match: match({ prefix: '/meshfed.echo.Echo/Echo', headers: [{ name: 'x-fault', present: true, invert: false }] }), perFilter: { fault: { abort: { grpcStatus: 8, perMillion: 1_000_000 } } } }),
      route('empty', empty.name, { match: match({ prefix: '/meshfed.echo.Echo/Echo', headers: [{ name: 'x-no-upstream', present: true, invert: false }] }) }),
      route('timeout', cluster, { match: match({ prefix: '/meshfed.echo.Echo/Echo', headers: [{ name: 'x-short-timeout', present: true, invert: false }] }), timeoutMs: 200 }),
      route('default', cluster),
    ],
  });
  client = new grpc.Client(`${CLIENT}:15001`, grpc.credentials.createInsecure(), { 'grpc.default_authority': `echo-grpc:${APP_PORT}` });
});

test.after.always(async () => {
  client?.close();
  await pair?.close();
  await new Promise<void>((r) => (app ? app.tryShutdown(() => r()) : r()));
});

interface CallResult {
  error: grpc.ServiceError | null;
  reply: Record<string, unknown> | undefined;
}

function unary(req: object, metadata: Record<string, string> = {}): Promise<CallResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/meshfed.echo.Echo/Echo', json.serialize, json.deserialize, req, md, (error, reply) => resolve({ error, reply }));
  });
}

function serverStream(req: object): Promise<{ replies: Record<string, unknown>[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const replies: Record<string, unknown>[] = [];
    const call = client.makeServerStreamRequest('/meshfed.echo.Echo/EchoStream', json.serialize, json.deserialize, req);
    call.on('data', (r: Record<string, unknown>) => replies.push(r));
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => resolve({ replies, status }));
  });
}

async function scrape(url: string): Promise<string> {
  return (await fetch(`${url}/stats/prometheus`)).text();
}

test.serial('a unary call crosses both sidecars over h2c and mTLS h2', async (t) => {
  const r = await unary({ message: 'hi' });
  t.is(r.error, null);
  t.is(r.reply?.['message'], 'hi');
  t.is(r.reply?.['workload'], 'echo-grpc-v1');
});

test.serial('an error status and its message pass through both sidecars unchanged, as a 200 with grpc_response_status', async (t) => {
  const r = await unary({ message: 'x', status: grpc.status.NOT_FOUND, details: 'no such echo: 100% gone' });
  t.is(r.error?.code, grpc.status.NOT_FOUND, r.error?.details);
  t.is(r.error?.details, 'no such echo: 100% gone');
  const labels = { request_protocol: 'grpc', response_code: '200', grpc_response_status: '5', response_flags: '-' };
  const src = await scrape(pair.client.urls.metrics);
  const dst = await scrape(pair.server.urls.metrics);
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', ...labels }), src);
  t.truthy(metricLine(dst, 'istio_requests_total', { reporter: 'destination', ...labels }), dst);
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', request_protocol: 'grpc', grpc_response_status: '0' }), src);
});

test.serial('a server-streaming call delivers every message, then its status from the trailers', async (t) => {
  const ok = await serverStream({ message: 'm', count: 5 });
  t.is(ok.status.code, grpc.status.OK);
  t.deepEqual(
    ok.replies.map((r) => r['seq']),
    [0, 1, 2, 3, 4],
  );
  const failed = await serverStream({ message: 'm', count: 2, status: grpc.status.RESOURCE_EXHAUSTED, details: 'enough' });
  t.is(failed.replies.length, 2);
  t.is(failed.status.code, grpc.status.RESOURCE_EXHAUSTED);
  t.is(failed.status.details, 'enough');
});

test.serial('no healthy upstream: a trailers-only UNAVAILABLE with flag UH, not an HTTP 503', async (t) => {
  const r = await unary({ message: 'x' }, { 'x-no-upstream': '1' });
  t.is(r.error?.code, grpc.status.UNAVAILABLE);
  t.regex(r.error?.details ?? '', /healthy/);
  const src = await scrape(pair.client.urls.metrics);
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', response_code: '200', response_flags: 'UH', grpc_response_status: '14' }), src);
});

test.serial('route timeout: a trailers-only UNAVAILABLE with flag UT (Envoy maps its 504 so)', async (t) => {
  const r = await unary({ message: 'x', delayMs: 5000 }, { 'x-short-timeout': '1' });
  t.is(r.error?.code, grpc.status.UNAVAILABLE);
  const src = await scrape(pair.client.urls.metrics);
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', response_flags: 'UT', grpc_response_status: '14' }), src);
});

test.serial('fault abort with grpc_status: the client gets that status, flag FI', async (t) => {
  const r = await unary({ message: 'x' }, { 'x-fault': '1' });
  t.is(r.error?.code, grpc.status.RESOURCE_EXHAUSTED);
  const src = await scrape(pair.client.urls.metrics);
  t.truthy(metricLine(src, 'istio_requests_total', { reporter: 'source', response_flags: 'FI', grpc_response_status: '8' }), src);
});

test('the access log entry carries grpc-status as a response trailer, through the ALS proto', (t) => {
  const entry = httpAccessLogEntry({
    reporter: 'source',
    startTime: new Date(1_700_000_000_000),
    durationMs: 3,
    upstreamCluster: 'outbound|9090||echo-grpc.default.svc.cluster.local',
    method: 'POST',
    path: '/meshfed.echo.Echo/Echo',
    authority: 'echo-grpc:9090',
    responseCode: 200,
    responseFlags: 'UC',
    protocol: 'HTTP2',
    grpcStatus: '5',
    sourceWorkload: 'caller-v1',
    sourceNamespace: 'default',
    sourceCluster: 'east',
    destinationService: 'echo-grpc.default.svc.cluster.local',
    destinationWorkload: 'echo-grpc-v1',
    destinationCluster: 'east',
    connectionSecurityPolicy: 'mutual_tls',
  });
  const method = serviceClient('envoy.service.accesslog.v3.AccessLogService').service['StreamAccessLogs'];
  if (!method) {
    t.fail('StreamAccessLogs not loaded');
    return;
  }
  const back = method.requestDeserialize(method.requestSerialize({ http_logs: { log_entry: [entry] } })) as {
    http_logs: { log_entry: { response: { response_trailers: Record<string, string> }; common_properties: { response_flags: Record<string, boolean> } }[] };
  };
  const decodedEntry = back.http_logs.log_entry[0];
  t.deepEqual(decodedEntry?.response.response_trailers, { 'grpc-status': '5' });
  t.true(decodedEntry?.common_properties.response_flags['upstream_connection_termination']);
});
