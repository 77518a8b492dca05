import test from 'ava';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/** The cluster layer's fields of a Cluster (load balancers, outlier detection, circuit breakers, HTTP options). */

const eds = (extra: Record<string, unknown> = {}) => ({
  '@type': TYPE_URL.cluster,
  name: 'c',
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  ...extra,
});
const base: ClusterConfig = { name: 'c', type: 'EDS', edsServiceName: 'c', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 5000 };

const good: { title: string; resource: object; expected: Partial<ClusterConfig> }[] = [
  {
    title: 'ring hash sizes',
    resource: eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 64 }, maximum_ring_size: { value: 4096 }, hash_function: 'XX_HASH' } }),
    expected: { lbPolicy: 'RING_HASH', ringHash: { minimumRingSize: 64, maximumRingSize: 4096 } },
  },
  { title: 'maglev default table', resource: eds({ lb_policy: 'MAGLEV' }), expected: { lbPolicy: 'MAGLEV', maglev: { tableSize: 65537 } } },
  {
    title: 'maglev prime table',
    resource: eds({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 251 } } }),
    expected: { lbPolicy: 'MAGLEV', maglev: { tableSize: 251 } },
  },
  {
    title: 'least request choice count',
    resource: eds({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: { value: 3 } } }),
    expected: { lbPolicy: 'LEAST_REQUEST', leastRequest: { choiceCount: 3 } },
  },
  {
    title: 'outlier detection with Envoy defaults',
    resource: eds({ outlier_detection: {} }),
    expected: {
      outlierDetection: {
        consecutive5xx: 5,
        enforcingConsecutive5xx: 100,
        consecutiveGatewayFailure: 5,
        enforcingConsecutiveGatewayFailure: 0,
        intervalMs: 10000,
        baseEjectionTimeMs: 30000,
        maxEjectionPercent: 10,
      },
    },
  },
  {
    title: 'outlier detection as Istio writes it (success rate off), panic threshold 0',
    resource: eds({
      outlier_detection: {
        consecutive_5xx: { value: 3 },
        enforcing_consecutive_5xx: { value: 100 },
        consecutive_gateway_failure: { value: 2 },
        enforcing_consecutive_gateway_failure: { value: 100 },
        enforcing_success_rate: { value: 0 },
        interval: { seconds: '1' },
        base_ejection_time: { seconds: '60' },
        max_ejection_percent: { value: 50 },
      },
      common_lb_config: { healthy_panic_threshold: { value: 0 } },
    }),
    expected: {
      outlierDetection: {
        consecutive5xx: 3,
        enforcingConsecutive5xx: 100,
        consecutiveGatewayFailure: 2,
        enforcingConsecutiveGatewayFailure: 100,
        intervalMs: 1000,
        baseEjectionTimeMs: 60000,
        maxEjectionPercent: 50,
      },
      healthyPanicThresholdPercent: 0,
    },
  },
  {
    title: 'circuit breakers, locality weighting, HTTP connection options',
    resource: eds({
      circuit_breakers: {
        thresholds: [{ priority: 'DEFAULT', max_connections: { value: 10 }, max_pending_requests: { value: 5 }, max_requests: { value: 20 }, max_retries: { value: 2 } }],
      },
      common_lb_config: { locality_weighted_lb_config: {}, healthy_panic_threshold: { value: 25.5 } },
      max_requests_per_connection: { value: 100 },
      common_http_protocol_options: { idle_timeout: { seconds: '30' } },
    }),
    expected: {
      circuitBreakers: { maxConnections: 10, maxPendingRequests: 5, maxRequests: 20, maxRetries: 2 },
      localityWeightedLb: true,
      healthyPanicThresholdPercent: 25.5,
      maxRequestsPerConnection: 100,
      idleTimeoutMs: 30000,
    },
  },
];

for (const row of good) {
  test(`valid cluster lb: ${row.title}`, (t) => {
    t.deepEqual(validateCluster(decoded(row.resource)), { ok: true, value: { ...base, ...row.expected } });
  });
}

const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'murmur hash',
    resource: eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'MURMUR_HASH_2' } }),
    error: 'ring_hash_lb_config.hash_function: unsupported value "MURMUR_HASH_2"',
  },
  {
    title: 'ring larger than 8M',
    resource: eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { maximum_ring_size: { value: 8388609 } } }),
    error: 'ring_hash_lb_config.maximum_ring_size.value: must be an integer in [1, 8388608]',
  },
  {
    title: 'minimum above maximum',
    resource: eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 10 }, maximum_ring_size: { value: 5 } } }),
    error: 'ring_hash_lb_config.minimum_ring_size: must not exceed maximum_ring_size',
  },
  {
    title: 'ring config without RING_HASH',
    resource: eds({ ring_hash_lb_config: { minimum_ring_size: { value: 10 } } }),
    error: 'ring_hash_lb_config: only with lb_policy RING_HASH',
  },
  {
    title: 'maglev table not prime',
    resource: eds({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 1000 } } }),
    error: 'maglev_lb_config.table_size: must be a prime number',
  },
  {
    title: 'least request active_request_bias',
    resource: eds({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { active_request_bias: { default_value: 2, runtime_key: 'k' } } }),
    error: 'least_request_lb_config.active_request_bias: unsupported field',
  },
  { title: 'choice count 1', resource: eds({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: { value: 1 } } }), error: 'least_request_lb_config.choice_count.value: must be an integer in [2, 4294967295]' },
  {
    title: 'success-rate ejection',
    resource: eds({ outlier_detection: { enforcing_success_rate: { value: 100 } } }),
    error: 'outlier_detection.enforcing_success_rate: only 0 is supported',
  },
  {
    title: 'split local-origin errors',
    resource: eds({ outlier_detection: { split_external_local_origin_errors: true } }),
    error: 'outlier_detection.split_external_local_origin_errors: unsupported field',
  },
  { title: 'max ejection above 100%', resource: eds({ outlier_detection: { max_ejection_percent: { value: 101 } } }), error: 'outlier_detection.max_ejection_percent.value: must be an integer in [0, 100]' },
  {
    title: 'retry budget',
    resource: eds({ circuit_breakers: { thresholds: [{ retry_budget: { budget_percent: { value: 20 } } }] } }),
    error: 'circuit_breakers.thresholds[0].retry_budget: unsupported field',
  },
  {
    title: 'per-host thresholds',
    resource: eds({ circuit_breakers: { per_host_thresholds: [{ max_connections: { value: 1 } }] } }),
    error: 'circuit_breakers.per_host_thresholds: unsupported field',
  },
  {
    title: 'two DEFAULT thresholds',
    resource: eds({ circuit_breakers: { thresholds: [{ max_requests: { value: 1 } }, { priority: 'DEFAULT' }] } }),
    error: 'circuit_breakers.thresholds[1]: duplicate thresholds for priority DEFAULT',
  },
  {
    title: 'zone-aware LB',
    resource: eds({ common_lb_config: { zone_aware_lb_config: { min_cluster_size: { value: 3 } } } }),
    error: 'common_lb_config.zone_aware_lb_config: unsupported field',
  },
  { title: 'panic threshold above 100', resource: eds({ common_lb_config: { healthy_panic_threshold: { value: 120 } } }), error: 'common_lb_config.healthy_panic_threshold.value: must be a number in [0, 100]' },
  {
    title: 'max headers count',
    resource: eds({ common_http_protocol_options: { max_headers_count: { value: 10 } } }),
    error: 'common_http_protocol_options.max_headers_count: unsupported field',
  },
  { title: 'zero requests per connection', resource: eds({ max_requests_per_connection: { value: 0 } }), error: 'max_requests_per_connection.value: must be an integer in [1, 4294967295]' },
];

for (const row of bad) {
  test(`invalid cluster lb: ${row.title}`, (t) => {
    const r = validateCluster(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}
