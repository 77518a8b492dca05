import type { OutlierDetectionConfig } from '../../xds/config-types.ts';

/**
 * Passive health checking with Envoy's consecutive-error semantics.
 *
 * - Every reported outcome is mapped to a status: a response its status; a connect success
 *   (TCP) 200; a connect failure or a reset 503; a timeout 504 (Envoy's local-origin errors, not split from external ones).
 * - A 5xx increments `consecutive5xx`; a gateway error (502, 503, 504) also increments
 *   `consecutiveGatewayFailure`, another 5xx resets it; a non-5xx resets both.
 * - When a counter reaches its threshold (0 disables it), the host is ejected right away with
 *   probability `enforcing… %`, unless that would take the ejected share above
 *   `maxEjectionPercent` (at least one host can always be ejected). Ejection resets the counter
 *   and increments the host's ejection multiplier.
 * - Every `intervalMs` (a sweep, run lazily by the cluster on its next pick or report), an
 *   ejected host whose `baseEjectionTimeMs × multiplier` (capped at max(base, 300 s)) has passed
 *   returns; a host that is not ejected has its multiplier decremented.
 * Time comes from the injected clock; nothing here sets a timer.
 */

/** What happened to one request, as the proxy saw it. */
export type Outcome =
  | { kind: 'response'; status: number }
  | { kind: 'connect-failure' }
  /** A TCP connection was established (TCP proxies: resets the consecutive counters). */
  | { kind: 'connect-success' }
  | { kind: 'reset' }
  | { kind: 'timeout' };

/** Envoy's default cap on one ejection (`max_ejection_time`). */
const MAX_EJECTION_TIME_MS = 300_000;

/** The outlier state kept per host (on the cluster's host records, across pushes). */
export interface OutlierHostState {
  ejected: boolean;
  ejectedAtMs: number;
  ejectionMultiplier: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  ejectionsConsecutive5xx: number;
  ejectionsConsecutiveGatewayFailure: number;
}

export function outcomeStatus(o: Outcome): number {
  switch (o.kind) {
    case 'response':
      return o.status;
    case 'connect-success':
      return 200;
    case 'connect-failure':
    case 'reset':
      return 503;
    case 'timeout':
      return 504;
  }
}

export class OutlierDetector {
  readonly config: OutlierDetectionConfig;
  readonly #clock: () => number;
  readonly #random: () => number;
  #lastSweepMs: number;

  constructor(config: OutlierDetectionConfig, clock: () => number, random: () => number) {
    this.config = config;
    this.#clock = clock;
    this.#random = random;
    this.#lastSweepMs = clock();
  }

  /** Records one outcome for `host` among `all`; true when the host was ejected by it. */
  report(host: OutlierHostState, outcome: Outcome, all: readonly OutlierHostState[]): boolean {
    const status = outcomeStatus(outcome);
    if (status < 500 || status > 599) {
      host.consecutive5xx = 0;
      host.consecutiveGatewayFailure = 0;
      return false;
    }
    const c = this.config;
    let ejected = false;
    if (status === 502 || status === 503 || status === 504) {
      host.consecutiveGatewayFailure++;
      if (c.consecutiveGatewayFailure > 0 && host.consecutiveGatewayFailure === c.consecutiveGatewayFailure) {
        host.consecutiveGatewayFailure = 0;
        if (this.#eject(host, all, c.enforcingConsecutiveGatewayFailure)) {
          host.ejectionsConsecutiveGatewayFailure++;
          ejected = true;
        }
      }
    } else {
      host.consecutiveGatewayFailure = 0;
    }
    host.consecutive5xx++;
    if (c.consecutive5xx > 0 && host.consecutive5xx === c.consecutive5xx) {
      host.consecutive5xx = 0;
      if (this.#eject(host, all, c.enforcingConsecutive5xx)) {
        host.ejectionsConsecutive5xx++;
        ejected = true;
      }
    }
    return ejected;
  }

  #eject(host: OutlierHostState, all: readonly OutlierHostState[], enforcing: number): boolean {
    if (host.ejected) return false;
    if (enforcing <= 0 || (enforcing < 100 && this.#random() * 100 >= enforcing)) return false;
    let ejectedCount = 0;
    for (const h of all) if (h.ejected) ejectedCount++;
    if (ejectedCount > 0 && (100 * (ejectedCount + 1)) / all.length > this.config.maxEjectionPercent) return false;
    host.ejected = true;
    host.ejectedAtMs = this.#clock();
    host.ejectionMultiplier++;
    return true;
  }

  /** Runs the interval sweep if one is due; true when any host came back. */
  maybeSweep(all: readonly OutlierHostState[]): boolean {
    const now = this.#clock();
    const interval = this.config.intervalMs;
    if (now - this.#lastSweepMs < interval) return false;
    this.#lastSweepMs += Math.floor((now - this.#lastSweepMs) / interval) * interval;
    const base = this.config.baseEjectionTimeMs;
    let changed = false;
    for (const h of all) {
      if (h.ejected) {
        const duration = Math.min(base * h.ejectionMultiplier, Math.max(base, MAX_EJECTION_TIME_MS));
        if (now - h.ejectedAtMs >= duration) {
          h.ejected = false;
          changed = true;
        }
      } else if (h.ejectionMultiplier > 0) {
        h.ejectionMultiplier--;
      }
    }
    return changed;
  }
}
