import type { Cluster, OutlierDetection } from '../../xds/resources.ts';
import type { OutlierDetectionSettings, TrafficPolicySections } from '../config/config-types.ts';
import { durationFromMs } from './generator-common.ts';

/**
 * DestinationRule traffic policy → the Cluster fields a proxyless `@grpc/grpc-js-xds` (1.14) client
 * honours. Pure. What the client does with each DestinationRule field (read from its source):
 * - `loadBalancer.simple` ROUND_ROBIN: `lb_policy: ROUND_ROBIN`. LEAST_REQUEST and RANDOM: the
 *   client NACKs any other `lb_policy` (a NACKed cluster fails every call), so, as Istio does for
 *   policies its gRPC generator cannot express, the cluster stays ROUND_ROBIN and
 *   generator-proxyless-findings.ts reports it.
 * - `loadBalancer.consistentHash`: `lb_policy: RING_HASH` with `ring_hash_lb_config`
 *   (minimum_ring_size; XX_HASH, the only hash function the client accepts). Maglev is NACKed by
 *   the client, so a Maglev rule gets a ring hash too (same key stickiness; reported). The route's
 *   `hash_policy` is written by the route generator; the client hashes headers only (reported).
 * - `connectionPool.http.http2MaxRequests`: `circuit_breakers` max_requests (gRFC A32; calls over
 *   the limit fail with UNAVAILABLE). The other connection-pool fields are not written (reported).
 * - `outlierDetection`: see `proxylessOutlierDetection`.
 * - `localityLbSetting`: EDS priorities and weights (generator-endpoints.ts), not written here.
 */
export function applyProxylessTrafficPolicy(c: Cluster, policy: TrafficPolicySections): void {
  const ch = policy.loadBalancer?.consistentHash;
  if (ch) {
    c.lb_policy = 'RING_HASH';
    const min = ch.algorithm.kind === 'ring-hash' ? ch.algorithm.minimumRingSize : undefined;
    c.ring_hash_lb_config = { hash_function: 'XX_HASH', ...(min !== undefined ? { minimum_ring_size: { value: String(min) } } : {}) };
  } else c.lb_policy = 'ROUND_ROBIN';
  const maxRequests = policy.connectionPool?.http?.http2MaxRequests;
  if (maxRequests !== undefined && maxRequests > 0) c.circuit_breakers = { thresholds: [{ priority: 'DEFAULT', max_requests: { value: maxRequests } }] };
  const od = policy.outlierDetection;
  if (od) {
    const out = proxylessOutlierDetection(od);
    if (out) c.outlier_detection = out;
  }
}

/**
 * The consecutive-error threshold that applies (the smallest positive one of consecutive5xxErrors,
 * consecutiveGatewayErrors and the deprecated consecutiveErrors), or undefined when none is set.
 */
export function consecutiveErrorThreshold(od: OutlierDetectionSettings): number | undefined {
  const counts = [od.consecutive5xxErrors, od.consecutiveGatewayErrors, od.consecutiveErrors].filter((n): n is number => n !== undefined && n > 0);
  return counts.length > 0 ? Math.min(...counts) : undefined;
}

/**
 * gRPC's outlier detection (gRFC A50) has no consecutive-error counters: it ejects by success rate
 * or by failure percentage over each `interval`, and counts every call that does not end OK as a
 * failure. Istio writes `consecutive_5xx` for proxyless clients, which they ignore, so the rule
 * does nothing. meshfed writes the consecutive fields too (as for Envoy) and translates the
 * threshold N into failure-percentage ejection: an endpoint is ejected when, within one interval,
 * it served at least N calls (`failure_percentage_request_volume`) and more than 99% of them
 * failed (`failure_percentage_threshold` 99: the client ejects above the threshold), whatever the
 * number of other endpoints (`failure_percentage_minimum_hosts` 1). Everything this ejects also had
 * N consecutive failures; failures spread over two intervals, or mixed with successes, are not
 * ejected (findings report the approximation). `interval`, `baseEjectionTime` and
 * `maxEjectionPercent` mean the same in both. Success-rate ejection stays off, as Istio sets it.
 * Returns undefined when no threshold is set (nothing to eject on).
 */
export function proxylessOutlierDetection(od: OutlierDetectionSettings): OutlierDetection | undefined {
  const n = consecutiveErrorThreshold(od);
  if (n === undefined) return undefined;
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  if (od.consecutive5xxErrors !== undefined && od.consecutive5xxErrors > 0) {
    out.consecutive_5xx = { value: od.consecutive5xxErrors };
    out.enforcing_consecutive_5xx = { value: 100 };
  }
  const gateway = od.consecutiveGatewayErrors ?? od.consecutiveErrors;
  if (gateway !== undefined && gateway > 0) {
    out.consecutive_gateway_failure = { value: gateway };
    out.enforcing_consecutive_gateway_failure = { value: 100 };
  }
  out.failure_percentage_threshold = { value: 99 };
  out.enforcing_failure_percentage = { value: 100 };
  out.failure_percentage_minimum_hosts = { value: 1 };
  out.failure_percentage_request_volume = { value: n };
  if (od.intervalMs !== undefined) out.interval = durationFromMs(od.intervalMs);
  if (od.baseEjectionTimeMs !== undefined) out.base_ejection_time = durationFromMs(od.baseEjectionTimeMs);
  if (od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0) out.max_ejection_percent = { value: od.maxEjectionPercent };
  return out;
}
