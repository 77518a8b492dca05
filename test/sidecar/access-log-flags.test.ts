import test from 'ava';
import { httpAccessLogEntry, tcpAccessLogEntry } from '../../src/sidecar/index.ts';
import { serviceClient } from '../../src/xds/protos.ts';

/**
 * Every response flag meshfed's data planes set reaches the access log as Envoy's
 * `envoy.data.accesslog.v3.ResponseFlags` field, through the real ALS proto encoding (a misspelled
 * field would be dropped by the serializer and fail here). Binds nothing.
 */

const rows: [flags: string, fields: string[]][] = [
  ['-', []],
  ['UO', ['upstream_overflow']],
  ['URX', ['upstream_retry_limit_exceeded']],
  ['UF', ['upstream_connection_failure']],
  ['UH', ['no_healthy_upstream']],
  ['NR', ['no_route_found']],
  ['FI', ['fault_injected']],
  ['DI', ['delay_injected']],
  ['UT', ['upstream_request_timeout']],
  ['UC', ['upstream_connection_termination']],
  ['RL', ['rate_limited']],
  ['NC', ['no_cluster_found']],
  ['UR', ['upstream_remote_reset']],
  ['DC', ['downstream_connection_termination']],
  ['UF,URX', ['upstream_connection_failure', 'upstream_retry_limit_exceeded']],
  ['DI,FI', ['delay_injected', 'fault_injected']],
];

const common = {
  reporter: 'source' as const,
  startTime: new Date(1_700_000_000_000),
  durationMs: 3,
  upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
  sourceWorkload: 'productpage-v1',
  sourceNamespace: 'default',
  sourceCluster: 'east',
  destinationService: 'reviews.default.svc.cluster.local',
  destinationWorkload: 'reviews-v1',
  destinationCluster: 'west',
  connectionSecurityPolicy: 'mutual_tls',
};

type Decoded = { common_properties: { response_flags?: Record<string, unknown> } };

function roundTrip(body: Record<string, unknown>): Record<string, unknown> {
  const method = serviceClient('envoy.service.accesslog.v3.AccessLogService').service['StreamAccessLogs'];
  if (!method) throw new Error('StreamAccessLogs not loaded');
  return method.requestDeserialize(method.requestSerialize(body)) as Record<string, unknown>;
}

const setFields = (flags: Record<string, unknown> | undefined): string[] =>
  Object.entries(flags ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k)
    .sort();

for (const [flags, fields] of rows) {
  test(`access log response flags ${flags} → ${fields.join(', ') || 'none'} (HTTP and TCP entries)`, (t) => {
    const http = httpAccessLogEntry({ ...common, method: 'GET', path: '/', authority: 'reviews', responseCode: 503, responseFlags: flags, protocol: 'HTTP11' });
    const tcp = tcpAccessLogEntry({ ...common, receivedBytes: 1, sentBytes: 2, responseFlags: flags });
    const back = roundTrip({ http_logs: { log_entry: [http] } }) as { http_logs: { log_entry: Decoded[] } };
    const backTcp = roundTrip({ tcp_logs: { log_entry: [tcp] } }) as { tcp_logs: { log_entry: Decoded[] } };
    t.deepEqual(setFields(back.http_logs.log_entry[0]?.common_properties.response_flags), [...fields].sort());
    t.deepEqual(setFields(backTcp.tcp_logs.log_entry[0]?.common_properties.response_flags), [...fields].sort());
  });
}
