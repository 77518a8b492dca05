import type { CircuitBreakerThresholds, ClusterConfig, OutlierDetectionConfig } from '../config-types.ts';
import { type Issues, type Obj, enumOf, isObj, join, list, onlyKeys, optDurationMs, optInt, optObj, optWrappedInt } from './reader.ts';

/**
 * The load-balancing, outlier-detection and circuit-breaking parts of a Cluster. Every field the
 * cluster layer (src/dataplane/cluster/) implements is read into ClusterConfig with Envoy's
 * defaults; every other field that is set is an error naming its path.
 */

const U32 = 0xffffffff;
const RING_MAX = 8 * 1024 * 1024;
const MAGLEV_MAX = 5000011;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** A `google.protobuf.UInt64Value` (`{ value: '1024' }`, int64 as string) within [min, max]. */
function optWrappedU64(o: Obj, key: string, min: number, max: number, path: string, issues: Issues): number | undefined {
  const w = optObj(o, key, path, issues);
  if (!w) return undefined;
  onlyKeys(w, ['value'], join(path, key), issues);
  if (w['value'] === undefined) {
    issues.add(join(join(path, key), 'value'), `must be an integer in [${min}, ${max}]`);
    return undefined;
  }
  return optInt(w, 'value', min, max, join(path, key), issues);
}

function lbConfigs(r: Obj, out: ClusterConfig, issues: Issues): void {
  const ring = optObj(r, 'ring_hash_lb_config', '', issues);
  if (ring) {
    const p = 'ring_hash_lb_config';
    if (out.lbPolicy !== 'RING_HASH') issues.add(p, 'only with lb_policy RING_HASH');
    onlyKeys(ring, ['minimum_ring_size', 'maximum_ring_size', 'hash_function'], p, issues);
    enumOf(ring, 'hash_function', ['XX_HASH'], 'XX_HASH', p, issues);
    const min = optWrappedU64(ring, 'minimum_ring_size', 1, RING_MAX, p, issues) ?? 1024;
    const max = optWrappedU64(ring, 'maximum_ring_size', 1, RING_MAX, p, issues) ?? RING_MAX;
    if (min > max) issues.add(join(p, 'minimum_ring_size'), 'must not exceed maximum_ring_size');
    out.ringHash = { minimumRingSize: min, maximumRingSize: max };
  } else if (out.lbPolicy === 'RING_HASH') {
    out.ringHash = { minimumRingSize: 1024, maximumRingSize: RING_MAX };
  }
  const maglev = optObj(r, 'maglev_lb_config', '', issues);
  if (maglev) {
    const p = 'maglev_lb_config';
    if (out.lbPolicy !== 'MAGLEV') issues.add(p, 'only with lb_policy MAGLEV');
    onlyKeys(maglev, ['table_size'], p, issues);
    const size = optWrappedU64(maglev, 'table_size', 2, MAGLEV_MAX - 1, p, issues) ?? 65537;
    if (!isPrime(size)) issues.add(join(p, 'table_size'), 'must be a prime number');
    out.maglev = { tableSize: size };
  } else if (out.lbPolicy === 'MAGLEV') {
    out.maglev = { tableSize: 65537 };
  }
  const lr = optObj(r, 'least_request_lb_config', '', issues);
  if (lr) {
    const p = 'least_request_lb_config';
    if (out.lbPolicy !== 'LEAST_REQUEST') issues.add(p, 'only with lb_policy LEAST_REQUEST');
    onlyKeys(lr, ['choice_count'], p, issues);
    out.leastRequest = { choiceCount: optWrappedInt(lr, 'choice_count', 2, U32, p, issues) ?? 2 };
  }
}

/** `enforcing_*` percentages: 0..100. */
function percent(o: Obj, key: string, dflt: number, path: string, issues: Issues): number {
  return optWrappedInt(o, key, 0, 100, path, issues) ?? dflt;
}

function outlierDetection(r: Obj, issues: Issues): OutlierDetectionConfig | undefined {
  const od = optObj(r, 'outlier_detection', '', issues);
  if (!od) return undefined;
  const p = 'outlier_detection';
  onlyKeys(
    od,
    [
      'consecutive_5xx',
      'consecutive_gateway_failure',
      'interval',
      'base_ejection_time',
      'max_ejection_percent',
      'enforcing_consecutive_5xx',
      'enforcing_consecutive_gateway_failure',
      'enforcing_success_rate',
    ],
    p,
    issues,
  );
  // Success-rate ejection is not implemented: only its explicit "off" (what Istio sends) is accepted.
  if (optWrappedInt(od, 'enforcing_success_rate', 0, 100, p, issues) ?? 0) issues.add(join(p, 'enforcing_success_rate'), 'only 0 is supported');
  const intervalMs = optDurationMs(od, 'interval', p, issues) ?? 10_000;
  if (intervalMs <= 0) issues.add(join(p, 'interval'), 'must be positive');
  const baseEjectionTimeMs = optDurationMs(od, 'base_ejection_time', p, issues) ?? 30_000;
  if (baseEjectionTimeMs <= 0) issues.add(join(p, 'base_ejection_time'), 'must be positive');
  return {
    consecutive5xx: optWrappedInt(od, 'consecutive_5xx', 0, U32, p, issues) ?? 5,
    enforcingConsecutive5xx: percent(od, 'enforcing_consecutive_5xx', 100, p, issues),
    consecutiveGatewayFailure: optWrappedInt(od, 'consecutive_gateway_failure', 0, U32, p, issues) ?? 5,
    enforcingConsecutiveGatewayFailure: percent(od, 'enforcing_consecutive_gateway_failure', 0, p, issues),
    intervalMs,
    baseEjectionTimeMs,
    maxEjectionPercent: percent(od, 'max_ejection_percent', 10, p, issues),
  };
}

function circuitBreakers(r: Obj, issues: Issues): CircuitBreakerThresholds | undefined {
  const cb = optObj(r, 'circuit_breakers', '', issues);
  if (!cb) return undefined;
  const p = 'circuit_breakers';
  onlyKeys(cb, ['thresholds'], p, issues);
  let out: CircuitBreakerThresholds | undefined;
  list(cb, 'thresholds', p, issues).forEach((t, i) => {
    const tp = join(join(p, 'thresholds'), i);
    if (!isObj(t)) {
      issues.add(tp, 'not an object');
      return;
    }
    onlyKeys(t, ['priority', 'max_connections', 'max_pending_requests', 'max_requests', 'max_retries'], tp, issues);
    enumOf(t, 'priority', ['DEFAULT'], 'DEFAULT', tp, issues);
    if (out) {
      issues.add(tp, 'duplicate thresholds for priority DEFAULT');
      return;
    }
    out = {
      maxConnections: optWrappedInt(t, 'max_connections', 0, U32, tp, issues) ?? 1024,
      maxPendingRequests: optWrappedInt(t, 'max_pending_requests', 0, U32, tp, issues) ?? 1024,
      maxRequests: optWrappedInt(t, 'max_requests', 0, U32, tp, issues) ?? 1024,
      maxRetries: optWrappedInt(t, 'max_retries', 0, U32, tp, issues) ?? 3,
    };
  });
  return out;
}

function commonLbConfig(r: Obj, out: ClusterConfig, issues: Issues): void {
  const c = optObj(r, 'common_lb_config', '', issues);
  if (!c) return;
  const p = 'common_lb_config';
  onlyKeys(c, ['healthy_panic_threshold', 'locality_weighted_lb_config'], p, issues);
  const t = optObj(c, 'healthy_panic_threshold', p, issues);
  if (t) {
    const tp = join(p, 'healthy_panic_threshold');
    onlyKeys(t, ['value'], tp, issues);
    const v = t['value'] ?? 0;
    if (typeof v !== 'number' || !(v >= 0 && v <= 100)) issues.add(join(tp, 'value'), 'must be a number in [0, 100]');
    else out.healthyPanicThresholdPercent = v;
  }
  const lw = optObj(c, 'locality_weighted_lb_config', p, issues);
  if (lw) {
    onlyKeys(lw, [], join(p, 'locality_weighted_lb_config'), issues);
    out.localityWeightedLb = true;
  }
}

function httpOptions(r: Obj, out: ClusterConfig, issues: Issues): void {
  const mr = optWrappedInt(r, 'max_requests_per_connection', 1, U32, '', issues);
  if (mr !== undefined) out.maxRequestsPerConnection = mr;
  const h = optObj(r, 'common_http_protocol_options', '', issues);
  if (!h) return;
  const p = 'common_http_protocol_options';
  onlyKeys(h, ['idle_timeout'], p, issues);
  const idle = optDurationMs(h, 'idle_timeout', p, issues);
  if (idle !== undefined && idle > 0) out.idleTimeoutMs = idle;
}

/** Cluster fields read here (for the cluster validator's `onlyKeys`). */
export const CLUSTER_LB_FIELDS = [
  'ring_hash_lb_config',
  'maglev_lb_config',
  'least_request_lb_config',
  'outlier_detection',
  'circuit_breakers',
  'common_lb_config',
  'max_requests_per_connection',
  'common_http_protocol_options',
] as const;

/** Reads the fields of CLUSTER_LB_FIELDS into `out` (which already holds `lbPolicy`). */
export function clusterLb(r: Obj, out: ClusterConfig, issues: Issues): void {
  lbConfigs(r, out, issues);
  const od = outlierDetection(r, issues);
  if (od) out.outlierDetection = od;
  const cb = circuitBreakers(r, issues);
  if (cb) out.circuitBreakers = cb;
  commonLbConfig(r, out, issues);
  httpOptions(r, out, issues);
}
