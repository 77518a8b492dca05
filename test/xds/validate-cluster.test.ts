import test from 'ava';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

const eds = (extra: Record<string, unknown> = {}) => ({
  '@type': TYPE_URL.cluster,
  name: 'outbound|9080||reviews.default.svc.cluster.local',
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  ...extra,
});
const upstreamTls = {
  name: 'envoy.transport_sockets.tls',
  typed_config: {
    '@type': TYPED_CONFIG.upstreamTls,
    sni: 'outbound_.9080_._.reviews.default.svc.cluster.local',
    common_tls_context: { tls_certificate_sds_secret_configs: [{ name: 'default' }], alpn_protocols: ['h2'] },
  },
};

/** Istio's PassthroughCluster, as Pilot sends it to capture proxies. */
const passthrough = (extra: Record<string, unknown> = {}) => ({
  '@type': TYPE_URL.cluster,
  name: 'PassthroughCluster',
  type: 'ORIGINAL_DST',
  lb_policy: 'CLUSTER_PROVIDED',
  connect_timeout: { seconds: '10' },
  ...extra,
});

const good: { title: string; resource: object; expected: ClusterConfig }[] = [
  {
    title: 'PassthroughCluster: ORIGINAL_DST with CLUSTER_PROVIDED (no endpoints; the original destination is the host)',
    resource: passthrough(),
    expected: { name: 'PassthroughCluster', type: 'ORIGINAL_DST', edsServiceName: 'PassthroughCluster', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000 },
  },
  {
    title: 'BlackHoleCluster: STATIC without endpoints',
    resource: { '@type': TYPE_URL.cluster, name: 'BlackHoleCluster', type: 'STATIC', connect_timeout: { seconds: '10' }, load_assignment: { cluster_name: 'BlackHoleCluster', endpoints: [] } },
    expected: { name: 'BlackHoleCluster', type: 'STATIC', edsServiceName: 'BlackHoleCluster', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000, staticEndpoints: [] },
  },
  {
    title: 'EDS with defaults (name as service name, ROUND_ROBIN, 5 s)',
    resource: eds({ lb_policy: 'ROUND_ROBIN' }),
    expected: {
      name: 'outbound|9080||reviews.default.svc.cluster.local',
      type: 'EDS',
      edsServiceName: 'outbound|9080||reviews.default.svc.cluster.local',
      lbPolicy: 'ROUND_ROBIN',
      connectTimeoutMs: 5000,
    },
  },
  {
    title: 'EDS with service name, LEAST_REQUEST, timeout and mTLS',
    resource: eds({
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'reviews' },
      lb_policy: 'LEAST_REQUEST',
      connect_timeout: { seconds: '1', nanos: 500_000_000 },
      transport_socket: upstreamTls,
    }),
    expected: {
      name: 'outbound|9080||reviews.default.svc.cluster.local',
      type: 'EDS',
      edsServiceName: 'reviews',
      lbPolicy: 'LEAST_REQUEST',
      connectTimeoutMs: 1500,
      tls: { sni: 'outbound_.9080_._.reviews.default.svc.cluster.local', alpn: ['h2'] },
    },
  },
  {
    title: 'RING_HASH with Envoy ring defaults and circuit breakers of priority DEFAULT',
    resource: eds({ lb_policy: 'RING_HASH', circuit_breakers: { thresholds: [{ max_requests: { value: 1 } }] } }),
    expected: {
      name: 'outbound|9080||reviews.default.svc.cluster.local',
      type: 'EDS',
      edsServiceName: 'outbound|9080||reviews.default.svc.cluster.local',
      lbPolicy: 'RING_HASH',
      connectTimeoutMs: 5000,
      ringHash: { minimumRingSize: 1024, maximumRingSize: 8388608 },
      circuitBreakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1, maxRetries: 3 },
    },
  },
  {
    title: 'STATIC with inline endpoints (type absent on the wire)',
    resource: {
      '@type': TYPE_URL.cluster,
      name: 'inbound|9080||',
      type: 'STATIC',
      lb_policy: 'RANDOM',
      load_assignment: {
        cluster_name: 'inbound|9080||',
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.20', port_value: 9080 } } } }] }],
      },
    },
    expected: {
      name: 'inbound|9080||',
      type: 'STATIC',
      edsServiceName: 'inbound|9080||',
      lbPolicy: 'RANDOM',
      connectTimeoutMs: 5000,
      staticEndpoints: [{ address: { host: '127.0.0.20', port: 9080 }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0 }],
    },
  },
];

for (const row of good) {
  test(`valid cluster: ${row.title}`, (t) => {
    t.deepEqual(validateCluster(decoded(row.resource)), { ok: true, value: row.expected });
  });
}

const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'an EDS config source of xDS v2',
    resource: eds({ eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V2' } } }),
    error: 'eds_cluster_config.eds_config.resource_api_version: unsupported value "V2"',
  },
  {
    title: 'an initial fetch timeout (the receiver waits for the first response indefinitely)',
    resource: eds({ eds_cluster_config: { eds_config: { ads: {}, initial_fetch_timeout: { seconds: '15' } } } }),
    error: 'eds_cluster_config.eds_config.initial_fetch_timeout: only 0s (wait for the first response indefinitely) is honoured',
  },
  {
    title: 'connection reuse limits on an inbound cluster (its hop does not use them)',
    resource: eds({ name: 'inbound|9080||', max_requests_per_connection: { value: 10 } }),
    error: 'max_requests_per_connection: not honoured on inbound and gateway clusters',
  },
  {
    title: 'an idle timeout on a gateway (TCP passthrough) cluster',
    resource: eds({ name: 'outbound_.9080_._.reviews.default.svc.cluster.local', common_http_protocol_options: { idle_timeout: { seconds: '5' } } }),
    error: 'common_http_protocol_options.idle_timeout: not honoured on inbound and gateway clusters',
  },
  { title: 'ORIGINAL_DST with ROUND_ROBIN', resource: passthrough({ lb_policy: 'ROUND_ROBIN' }), error: 'lb_policy: an ORIGINAL_DST cluster takes lb_policy CLUSTER_PROVIDED' },
  { title: 'ORIGINAL_DST without lb_policy (ROUND_ROBIN)', resource: passthrough({ lb_policy: undefined }), error: 'lb_policy: an ORIGINAL_DST cluster takes lb_policy CLUSTER_PROVIDED' },
  { title: 'ORIGINAL_DST over EDS', resource: passthrough({ eds_cluster_config: { eds_config: { ads: {} } } }), error: 'eds_cluster_config: not honoured on an ORIGINAL_DST cluster' },
  { title: 'ORIGINAL_DST with endpoints', resource: passthrough({ load_assignment: { cluster_name: 'p', endpoints: [] } }), error: 'load_assignment: not honoured on an ORIGINAL_DST cluster' },
  { title: 'ORIGINAL_DST with upstream TLS', resource: passthrough({ transport_socket: upstreamTls }), error: 'transport_socket: not honoured on an ORIGINAL_DST cluster' },
  { title: 'ORIGINAL_DST with circuit breakers', resource: passthrough({ circuit_breakers: { thresholds: [{ max_connections: { value: 1 } }] } }), error: 'circuit_breakers: not honoured on an ORIGINAL_DST cluster' },
  { title: 'ORIGINAL_DST with outlier detection', resource: passthrough({ outlier_detection: { consecutive_5xx: { value: 1 } } }), error: 'outlier_detection: not honoured on an ORIGINAL_DST cluster' },
  { title: 'EDS without eds_cluster_config', resource: eds({ eds_cluster_config: undefined }), error: 'eds_cluster_config: missing' },
  {
    title: 'EDS not over ADS',
    resource: eds({ eds_cluster_config: { eds_config: { self: {} } } }),
    error: 'eds_cluster_config.eds_config: only { ads: {} } is supported',
  },
  { title: 'CLUSTER_PROVIDED on an EDS cluster', resource: eds({ lb_policy: 'CLUSTER_PROVIDED' }), error: 'lb_policy: CLUSTER_PROVIDED is honoured only on an ORIGINAL_DST cluster' },
  { title: 'an unknown lb_policy', resource: eds({ lb_policy: 'LOAD_BALANCING_POLICY_CONFIG' }), error: 'lb_policy: unsupported value "LOAD_BALANCING_POLICY_CONFIG"' },
  {
    title: 'downstream TLS context upstream',
    resource: eds({ transport_socket: { name: 'tls', typed_config: { '@type': TYPED_CONFIG.downstreamTls } } }),
    error: `transport_socket.typed_config: unsupported transport socket "${TYPED_CONFIG.downstreamTls}"`,
  },
  { title: 'STATIC without load_assignment', resource: { '@type': TYPE_URL.cluster, name: 's' }, error: 'load_assignment: missing' },
  {
    title: 'circuit breakers of priority HIGH',
    resource: eds({ circuit_breakers: { thresholds: [{ priority: 'HIGH', max_connections: { value: 1 } }] } }),
    error: 'circuit_breakers.thresholds[0].priority: unsupported value "HIGH"',
  },
  { title: 'health checks', resource: eds({ health_checks: [{ timeout: { seconds: '1' } }] }), error: 'health_checks: unsupported field' },
  { title: 'zero connect timeout', resource: eds({ connect_timeout: { seconds: '0' } }), error: 'connect_timeout: must be positive' },
  { title: 'no name', resource: eds({ name: undefined }), error: 'name: missing' },
];

for (const row of bad) {
  test(`invalid cluster: ${row.title}`, (t) => {
    const r = validateCluster(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}
