import type { RetryPolicyConfig } from '../../xds/config-types.ts';

/**
 * Envoy's retry decisions (`x-envoy-retry-on` and `x-envoy-retry-grpc-on` semantics) as pure
 * functions: whether an attempt's outcome is retried under a policy, and the back-off before the
 * next attempt (Envoy's default: full jitter over 25 ms × 2^n, capped at 250 ms).
 */

/** How one attempt ended. */
export type AttemptOutcome =
  | { kind: 'response'; status: number; grpcStatus?: number }
  | { kind: 'connect-failure' }
  | { kind: 'reset'; refusedStream: boolean }
  | { kind: 'per-try-timeout' };

const GRPC_CONDITIONS: Readonly<Record<string, number>> = {
  cancelled: 1,
  'deadline-exceeded': 4,
  'resource-exhausted': 8,
  internal: 13,
  unavailable: 14,
};

export function retriable(policy: RetryPolicyConfig, outcome: AttemptOutcome): boolean {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case 'connect-failure':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'reset':
      return on.has('reset') || on.has('5xx') || (outcome.refusedStream && on.has('refused-stream'));
    case 'per-try-timeout':
      return on.has('5xx') || on.has('gateway-error') || on.has('reset');
    case 'response': {
      const s = outcome.status;
      if (on.has('5xx') && s >= 500) return true;
      if (on.has('gateway-error') && (s === 502 || s === 503 || s === 504)) return true;
      if (on.has('retriable-4xx') && s === 409) return true;
      if (on.has('retriable-status-codes') && policy.retriableStatusCodes.includes(s)) return true;
      if (outcome.grpcStatus !== undefined) {
        for (const [cond, code] of Object.entries(GRPC_CONDITIONS)) if (on.has(cond) && outcome.grpcStatus === code) return true;
      }
      return false;
    }
  }
}

const BASE_MS = 25;
const MAX_MS = 250;

/** Milliseconds to wait before retry number `retry` (1-based). */
export function backoffMs(retry: number, random: () => number): number {
  const ceiling = Math.min(MAX_MS, BASE_MS * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
