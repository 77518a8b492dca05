import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { startMixer, type MixerHandle } from '../../src/mixer/index.ts';
import { nodeMessage } from '../../src/xds/node.ts';
import { serviceClient } from '../../src/xds/protos.ts';
import { type JsonValue, toStruct } from '../../src/xds/struct.ts';

// This file owns 127.62.4.0/24.
const HOST = '127.62.4.1';
const logger = createLogger('mixer-test');
logger.level = 'silent';

const identity = nodeMessage({
  type: 'sidecar',
  ip: '127.62.4.20',
  workload: 'productpage-v1',
  namespace: 'default',
  cluster: 'east',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage' },
});
// The top-level `cluster` differs on purpose: the fallback must come from metadata CLUSTER_ID.
const node = { ...identity, cluster: 'not-the-cluster-id', metadata: identity.metadata };

function meta(attrs: Record<string, JsonValue>): Record<string, unknown> {
  return { filter_metadata: { meshfed: toStruct(attrs) } };
}

const EAST_TO_WEST = {
  reporter: 'source',
  source_workload: 'productpage-v1',
  source_namespace: 'default',
  source_cluster: 'east',
  destination_service: 'reviews.default.svc.cluster.local',
  destination_workload: 'reviews-v2',
  destination_cluster: 'west',
  connection_security_policy: 'unknown',
};

function httpEntry(attrs: Record<string, JsonValue>, code?: number, duration?: { seconds: string; nanos: number }): Record<string, unknown> {
  return {
    common_properties: { metadata: meta(attrs), ...(duration ? { time_to_last_downstream_tx_byte: duration } : {}) },
    ...(code !== undefined ? { response: { response_code: { value: code } } } : {}),
  };
}

type Stream = grpc.ClientWritableStream<unknown> & { done: Promise<grpc.ServiceError | null> };

function openStream(port: number): { client: grpc.Client; stream: Stream } {
  const Ctor = serviceClient('envoy.service.accesslog.v3.AccessLogService');
  const client = new Ctor(`${HOST}:${port}`, grpc.credentials.createInsecure());
  let resolveDone: (e: grpc.ServiceError | null) => void = () => {};
  const done = new Promise<grpc.ServiceError | null>((r) => {
    resolveDone = r;
  });
  const method = (client as unknown as Record<string, (cb: (e: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<unknown>>)['StreamAccessLogs'];
  const stream = method!.call(client, (e) => resolveDone(e)) as Stream;
  stream.done = done;
  return { client, stream };
}

async function scrape(mixer: MixerHandle): Promise<string> {
  const res = await fetch(`http://${HOST}:${mixer.metricsPort}/metrics`);
  return res.text();
}

/** The value of the series of `name` whose labels include all of `labels`, from exposition text. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('access-log entries are counted into mesh-wide metrics by source and destination cluster', async (t) => {
  const mixer = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, logger });
  const { client, stream } = openStream(mixer.grpcPort);
  try {
    stream.write({ identifier: { node, log_name: 'meshfed' }, http_logs: { log_entry: [httpEntry(EAST_TO_WEST, 200, { seconds: '0', nanos: 12_000_000 }), httpEntry(EAST_TO_WEST, 200)] } });
    stream.write({ http_logs: { log_entry: [httpEntry(EAST_TO_WEST, 503), httpEntry({ ...EAST_TO_WEST, reporter: 'destination', source_cluster: 'west', destination_cluster: 'east' }, 200)] } });
    stream.write({ tcp_logs: { log_entry: [{ common_properties: { metadata: meta(EAST_TO_WEST) } }] } });
    stream.end();
    t.is(await stream.done, null);
    const text = await scrape(mixer);
    const base = { source_cluster: 'east', destination_cluster: 'west', destination_service: 'reviews.default.svc.cluster.local', reporter: 'source' };
    t.is(sample(text, 'meshfed_mesh_requests_total', { ...base, response_code: '200' }), 2);
    t.is(sample(text, 'meshfed_mesh_requests_total', { ...base, response_code: '503' }), 1);
    t.is(sample(text, 'meshfed_mesh_requests_total', { reporter: 'destination', source_cluster: 'west', destination_cluster: 'east', response_code: '200' }), 1);
    t.is(sample(text, 'meshfed_mesh_request_duration_seconds_count', { ...base, response_code: '200' }), 1);
    t.is(sample(text, 'meshfed_mesh_request_duration_seconds_sum', { ...base, response_code: '200' }), 0.012);
    t.is(sample(text, 'meshfed_mesh_request_duration_seconds_bucket', { ...base, response_code: '200', le: '0.01' }), 0);
    t.is(sample(text, 'meshfed_mesh_request_duration_seconds_bucket', { ...base, response_code: '200', le: '0.025' }), 1);
    t.is(sample(text, 'meshfed_mesh_tcp_connections_total', base), 1);
    t.is(sample(text, 'meshfed_mixer_access_log_entries_total', { result: 'accepted' }), 5);
    t.is(sample(text, 'meshfed_mixer_access_log_entries_total', { result: 'malformed' }), 0);
    t.is(sample(text, 'meshfed_mixer_streams_active', {}), 0);
  } finally {
    client.close();
    await mixer.close();
  }
});

test('the reporter\'s own cluster falls back to the stream\'s node', async (t) => {
  const mixer = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, logger });
  const { client, stream } = openStream(mixer.grpcPort);
  try {
    const { source_cluster: _, ...withoutSourceCluster } = EAST_TO_WEST;
    stream.write({ identifier: { node, log_name: 'meshfed' }, http_logs: { log_entry: [httpEntry(withoutSourceCluster, 200)] } });
    stream.end();
    t.is(await stream.done, null);
    t.is(sample(await scrape(mixer), 'meshfed_mesh_requests_total', { source_cluster: 'east', destination_cluster: 'west' }), 1);
  } finally {
    client.close();
    await mixer.close();
  }
});

const MALFORMED: [string, unknown][] = [
  ['no common_properties', {}],
  ['no meshfed metadata', { common_properties: { metadata: { filter_metadata: {} } } }],
  ['a missing destination_service', httpEntry({ ...EAST_TO_WEST, destination_service: '' }, 200)],
  ['a numeric destination_cluster', httpEntry({ ...EAST_TO_WEST, destination_cluster: 7 }, 200)],
  ['an unknown reporter', httpEntry({ ...EAST_TO_WEST, reporter: 'proxy' }, 200)],
  ['a response code above 999', httpEntry(EAST_TO_WEST, 1000)],
  ['nanos out of range', httpEntry(EAST_TO_WEST, 200, { seconds: '1', nanos: 2_000_000_000 })],
];

test('malformed entries are counted as malformed and the stream survives', async (t) => {
  const mixer = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, logger });
  const { client, stream } = openStream(mixer.grpcPort);
  try {
    stream.write({ identifier: { node, log_name: 'meshfed' }, http_logs: { log_entry: MALFORMED.map(([, e]) => e) } });
    stream.write({ http_logs: { log_entry: [httpEntry(EAST_TO_WEST, 201)] } });
    stream.end();
    t.is(await stream.done, null);
    const text = await scrape(mixer);
    t.is(sample(text, 'meshfed_mixer_access_log_entries_total', { result: 'malformed' }), MALFORMED.length);
    t.is(sample(text, 'meshfed_mixer_access_log_entries_total', { result: 'accepted' }), 1);
    t.is(sample(text, 'meshfed_mesh_requests_total', { response_code: '201' }), 1);
    t.like(mixer.stats(), { entriesMalformed: MALFORMED.length, entriesAccepted: 1, streamsActive: 0 });
  } finally {
    client.close();
    await mixer.close();
  }
});

test('a client that disconnects mid-stream does not hurt the server', async (t) => {
  const mixer = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, logger });
  const first = openStream(mixer.grpcPort);
  try {
    first.stream.write({ identifier: { node, log_name: 'meshfed' }, http_logs: { log_entry: [httpEntry(EAST_TO_WEST, 200)] } });
    await until(() => mixer.stats().entriesAccepted === 1);
    t.is(mixer.stats().streamsActive, 1);
    t.is(sample(await scrape(mixer), 'meshfed_mixer_streams_active', {}), 1);
    first.stream.cancel();
    first.client.close();
    t.is((await first.stream.done)?.code, grpc.status.CANCELLED);
    await until(() => mixer.stats().streamsActive === 0);

    const second = openStream(mixer.grpcPort);
    second.stream.write({ identifier: { node, log_name: 'meshfed' }, http_logs: { log_entry: [httpEntry(EAST_TO_WEST, 200)] } });
    second.stream.end();
    t.is(await second.stream.done, null);
    second.client.close();
    const text = await scrape(mixer);
    t.is(sample(text, 'meshfed_mesh_requests_total', { response_code: '200' }), 2);
    t.is(sample(text, 'meshfed_mixer_streams_active', {}), 0);
    t.like(mixer.stats(), { streamsOpened: 2, streamsActive: 0 });
  } finally {
    first.client.close();
    await mixer.close();
  }
});
