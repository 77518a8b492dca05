import type { CircuitBreakerThresholds } from '../../xds/config-types.ts';

/** Envoy's default thresholds of priority DEFAULT. */
export const DEFAULT_THRESHOLDS: Readonly<CircuitBreakerThresholds> = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
});

/** Which threshold refused a request (Envoy's `upstream_rq_pending_overflow`, …). */
export type Overflow = 'max_requests' | 'max_pending_requests' | 'max_retries' | 'max_connections';

/**
 * Per-cluster circuit breaking (priority DEFAULT). A request is admitted by `tryAcquire` and
 * must be released exactly once. Limits:
 * - `maxRequests`: requests in flight;
 * - `maxRetries`: retries in flight (requests acquired with `retry: true`);
 * - `maxConnections` / `maxPendingRequests`: the upstream transports never queue, so a request is
 *   counted as one connection while it runs (HTTP/1.1's model); requests beyond
 *   `maxConnections` count as pending, and are refused once `maxPendingRequests` are.
 * A refused request gets 503 with response flag UO.
 */
export class CircuitBreaker {
  thresholds: CircuitBreakerThresholds;
  requests = 0;
  retries = 0;
  readonly overflows: Record<Overflow, number> = { max_requests: 0, max_pending_requests: 0, max_retries: 0, max_connections: 0 };

  constructor(thresholds: CircuitBreakerThresholds = DEFAULT_THRESHOLDS) {
    this.thresholds = thresholds;
  }

  /** Admits one request, or names the threshold that refuses it. */
  tryAcquire(retry: boolean): Overflow | undefined {
    const t = this.thresholds;
    let refused: Overflow | undefined;
    if (retry && this.retries >= t.maxRetries) refused = 'max_retries';
    else if (this.requests >= t.maxRequests) refused = 'max_requests';
    else if (this.requests >= t.maxConnections && this.requests - t.maxConnections >= t.maxPendingRequests) refused = 'max_pending_requests';
    if (refused !== undefined) {
      this.overflows[refused]++;
      return refused;
    }
    this.requests++;
    if (retry) this.retries++;
    return undefined;
  }

  /**
   * Admits one TCP proxy connection (Envoy's tcp_proxy: `upstream_cx_overflow` once
   * `maxConnections` are open). It shares the in-flight count with requests; release with
   * `release(false)`.
   */
  tryAcquireConnection(): Overflow | undefined {
    if (this.requests >= this.thresholds.maxConnections) {
      this.overflows.max_connections++;
      return 'max_connections';
    }
    this.requests++;
    return undefined;
  }

  release(retry: boolean): void {
    this.requests--;
    if (retry) this.retries--;
  }
}
