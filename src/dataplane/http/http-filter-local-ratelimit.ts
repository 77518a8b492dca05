import type { OutgoingHttpHeaders } from 'node:http';
import type { HttpFilterConfig, LocalRateLimitConfig } from '../../xds/config-types.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import { applyHeaderOps } from './header-ops.ts';
import { CONTINUE, type FilterDecision, type FilterStatSink, type HttpFilter } from './http-filter-interface.ts';

/**
 * Envoy's local rate limit filter (`envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`).
 * A request uses its route's config when the route has one (with the route's own token bucket),
 * else the filter's listener-level config. Per request, as Envoy does: with probability
 * `filter_enabled` the request is checked (`<stat_prefix>.http_local_rate_limit.enabled`); it takes
 * a token (`ok`) or finds none (`rate_limited`); then, with probability `filter_enforced`, it is
 * rejected (`enforced`) with the configured status (429), `x-envoy-ratelimited: true`, the
 * `response_headers_to_add` and the response flag RL. A config without a bucket limits nothing.
 * Buckets live as long as the config they belong to (a new route config starts a full bucket).
 */

/**
 * Envoy's timer token bucket: it starts full, and every `fillIntervalMs` after its creation
 * `tokensPerFill` tokens are added, up to `maxTokens`. Fills are computed when a token is asked for.
 */
export class TokenBucket {
  #tokens: number;
  #fills = 0;
  readonly #start: number;

  constructor(
    private readonly spec: NonNullable<LocalRateLimitConfig['tokenBucket']>,
    now: number,
  ) {
    this.#tokens = spec.maxTokens;
    this.#start = now;
  }

  /** Takes one token at time `now` (ms); false when the bucket is empty. */
  take(now: number): boolean {
    const fills = Math.floor((now - this.#start) / this.spec.fillIntervalMs);
    if (fills > this.#fills) {
      this.#tokens = Math.min(this.spec.maxTokens, this.#tokens + (fills - this.#fills) * this.spec.tokensPerFill);
      this.#fills = fills;
    }
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}

function chosen(perMillion: number, random: () => number): boolean {
  return perMillion >= 1_000_000 || (perMillion > 0 && random() * 1_000_000 < perMillion);
}

export function createLocalRateLimitFilter(config: HttpFilterConfig, stat: FilterStatSink, now: () => number = Date.now): HttpFilter {
  const listener = config.localRateLimit;
  const buckets = new WeakMap<LocalRateLimitConfig, TokenBucket | undefined>();
  const bucketOf = (c: LocalRateLimitConfig): TokenBucket | undefined => {
    if (!buckets.has(c)) buckets.set(c, c.tokenBucket ? new TokenBucket(c.tokenBucket, now()) : undefined);
    return buckets.get(c);
  };
  if (listener) bucketOf(listener);
  return {
    typeUrl: TYPED_CONFIG.localRateLimit,
    everyRoute: listener !== undefined,
    onRequest(req): FilterDecision {
      const c = req.route.perFilter.localRateLimit ?? listener;
      if (!c || !chosen(c.enabledPerMillion, req.random)) return CONTINUE;
      const stats = `${c.statPrefix}.http_local_rate_limit`;
      stat(`${stats}.enabled`);
      const bucket = bucketOf(c);
      if (!bucket || bucket.take(now())) {
        stat(`${stats}.ok`);
        return CONTINUE;
      }
      stat(`${stats}.rate_limited`);
      if (!chosen(c.enforcedPerMillion, req.random)) return CONTINUE;
      stat(`${stats}.enforced`);
      const headers: OutgoingHttpHeaders = { 'x-envoy-ratelimited': 'true' };
      applyHeaderOps(headers, c.responseHeaders);
      return { kind: 'reply', reply: { status: c.status, flag: 'RL', body: 'local_rate_limited', headers } };
    },
  };
}
