import type { CircuitBreakerThreshold, Cluster, HashPolicy, OutlierDetection } from '../../xds/resources.ts';
import type { ConsistentHashSettings, TrafficPolicy, TrafficPolicySections } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { durationFromMs } from './generator-common.ts';

/**
 * DestinationRule traffic policies → Envoy cluster and route fields, the way Istio's cluster
 * builder writes them. Pure functions of the snapshot.
 */

/** Istio's default circuit-breaker thresholds: effectively unlimited (Envoy's own are 1024, 1024, 1024, 3). */
const UNLIMITED = 0xffffffff;

function overlay(base: TrafficPolicySections, over: TrafficPolicySections | undefined): TrafficPolicySections {
  if (!over) return base;
  return {
    ...base,
    ...(over.loadBalancer ? { loadBalancer: over.loadBalancer } : {}),
    ...(over.connectionPool ? { connectionPool: over.connectionPool } : {}),
    ...(over.outlierDetection ? { outlierDetection: over.outlierDetection } : {}),
    ...(over.tls ? { tls: over.tls } : {}),
  };
}

function atPort(tp: TrafficPolicy | undefined, port: number): TrafficPolicySections {
  if (!tp) return {};
  return overlay(tp, tp.portLevelSettings.find((p) => p.port === port));
}

/**
 * The traffic policy of one cluster (host, port, subset), merged as Istio merges it, section by
 * section (loadBalancer, connectionPool, outlierDetection): the subset's policy (its port-level
 * settings over its top level) over the top level's port-level settings over the top level.
 */
export function trafficPolicyFor(snap: Snapshot, hostname: string, port: number, subset: string): TrafficPolicySections {
  const dr = snap.destinationRules.get(hostname);
  if (!dr) return {};
  const top = atPort(dr.spec.trafficPolicy, port);
  const sub = subset === '' ? undefined : dr.spec.subsets.find((s) => s.name === subset)?.trafficPolicy;
  return sub ? overlay(top, atPort(sub, port)) : top;
}

function setIfPositive(t: CircuitBreakerThreshold, key: keyof Omit<CircuitBreakerThreshold, 'priority'>, v: number | undefined): void {
  if (v !== undefined && v > 0) t[key] = { value: v };
}

function outlier(od: NonNullable<TrafficPolicySections['outlierDetection']>): OutlierDetection {
  const out: OutlierDetection = { enforcing_success_rate: { value: 0 } };
  // Deprecated consecutiveErrors: gateway errors only (istio/api#617), as Istio maps it.
  if (od.consecutiveErrors !== undefined && od.consecutiveErrors > 0) {
    out.consecutive_gateway_failure = { value: od.consecutiveErrors };
    out.enforcing_consecutive_gateway_failure = { value: 100 };
    out.enforcing_consecutive_5xx = { value: 0 };
  }
  if (od.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = { value: od.consecutive5xxErrors };
    out.enforcing_consecutive_5xx = { value: od.consecutive5xxErrors > 0 ? 100 : 0 };
  }
  if (od.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = { value: od.consecutiveGatewayErrors };
    out.enforcing_consecutive_gateway_failure = { value: od.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  if (od.intervalMs !== undefined) out.interval = durationFromMs(od.intervalMs);
  if (od.baseEjectionTimeMs !== undefined) out.base_ejection_time = durationFromMs(od.baseEjectionTimeMs);
  if (od.maxEjectionPercent !== undefined && od.maxEjectionPercent > 0) out.max_ejection_percent = { value: od.maxEjectionPercent };
  return out;
}

function applyLoadBalancer(c: Cluster, ch: ConsistentHashSettings | undefined, simple: Cluster['lb_policy'] | undefined): void {
  if (!ch) {
    c.lb_policy = simple ?? 'ROUND_ROBIN';
    return;
  }
  if (ch.algorithm.kind === 'maglev') {
    c.lb_policy = 'MAGLEV';
    if (ch.algorithm.tableSize !== undefined) c.maglev_lb_config = { table_size: { value: String(ch.algorithm.tableSize) } };
    return;
  }
  c.lb_policy = 'RING_HASH';
  if (ch.algorithm.minimumRingSize !== undefined) c.ring_hash_lb_config = { minimum_ring_size: { value: String(ch.algorithm.minimumRingSize) } };
}

/**
 * Writes a merged policy onto a generated cluster: lb_policy (simple, or RING_HASH / MAGLEV for
 * consistentHash) with its config; connect_timeout; circuit_breakers (Istio's unlimited defaults,
 * overridden by connectionPool); max_requests_per_connection and idle_timeout; outlier_detection
 * and `healthy_panic_threshold` = minHealthPercent (0 unless set, which disables panic mode);
 * `locality_weighted_lb_config` for a `localityLbSetting.distribute`.
 */
export function applyTrafficPolicy(c: Cluster, policy: TrafficPolicySections): void {
  applyLoadBalancer(c, policy.loadBalancer?.consistentHash, policy.loadBalancer?.simple);
  const cp = policy.connectionPool;
  if (cp?.tcp?.connectTimeoutMs !== undefined) c.connect_timeout = durationFromMs(cp.tcp.connectTimeoutMs);
  const t: CircuitBreakerThreshold = {
    max_connections: { value: UNLIMITED },
    max_pending_requests: { value: UNLIMITED },
    max_requests: { value: UNLIMITED },
    max_retries: { value: UNLIMITED },
  };
  setIfPositive(t, 'max_connections', cp?.tcp?.maxConnections);
  setIfPositive(t, 'max_pending_requests', cp?.http?.http1MaxPendingRequests);
  setIfPositive(t, 'max_requests', cp?.http?.http2MaxRequests);
  setIfPositive(t, 'max_retries', cp?.http?.maxRetries);
  c.circuit_breakers = { thresholds: [t] };
  const perConn = cp?.http?.maxRequestsPerConnection;
  if (perConn !== undefined && perConn > 0) c.max_requests_per_connection = { value: perConn };
  if (cp?.http?.idleTimeoutMs !== undefined) c.common_http_protocol_options = { idle_timeout: durationFromMs(cp.http.idleTimeoutMs) };
  const od = policy.outlierDetection;
  if (od) {
    c.outlier_detection = outlier(od);
    c.common_lb_config = { healthy_panic_threshold: { value: od.minHealthPercent ?? 0 } };
  }
  // `distribute` weights localities (EDS load_balancing_weight), which Envoy honours only with
  // locality-weighted balancing; hash-based policies ignore locality weights, so Istio leaves it off.
  const locality = policy.loadBalancer?.localityLbSetting;
  if (locality?.enabled && locality.distribute.length > 0 && policy.loadBalancer?.consistentHash === undefined) {
    c.common_lb_config = { ...c.common_lb_config, locality_weighted_lb_config: {} };
  }
}

/** The route hash policy for a cluster whose policy uses consistentHash, else undefined. */
export function hashPolicyOf(policy: TrafficPolicySections): HashPolicy[] | undefined {
  const key = policy.loadBalancer?.consistentHash?.key;
  if (!key) return undefined;
  switch (key.kind) {
    case 'header':
      return [{ header: { header_name: key.name } }];
    case 'cookie':
      return [
        {
          cookie: {
            name: key.name,
            ...(key.path !== undefined ? { path: key.path } : {}),
            ...(key.ttlMs !== undefined ? { ttl: durationFromMs(key.ttlMs) } : {}),
          },
        },
      ];
    case 'source-ip':
      return [{ connection_properties: { source_ip: true } }];
    case 'query':
      return [{ query_parameter: { name: key.name } }];
  }
}
