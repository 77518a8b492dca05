import test from 'ava';
import { createLocalRateLimitFilter, TokenBucket } from '../../src/dataplane/http/http-filter-local-ratelimit.ts';
import type { FilterRequest } from '../../src/dataplane/http/http-filter-interface.ts';
import type { LocalRateLimitConfig, RouteConfig } from '../../src/xds/config-types.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';

/** The token bucket and the filter's decisions, on an injected clock and random source. */

test('token bucket: starts full, adds tokens_per_fill per whole fill interval since creation, never above max_tokens', (t) => {
  const b = new TokenBucket({ maxTokens: 3, tokensPerFill: 2, fillIntervalMs: 1000 }, 10_000);
  const takes = (now: number, n: number) => Array.from({ length: n }, () => b.take(now)).filter(Boolean).length;
  t.is(takes(10_000, 5), 3);
  t.is(takes(10_999, 5), 0, 'no fill before a whole interval');
  t.is(takes(11_000, 5), 2, 'one fill');
  t.is(takes(15_500, 5), 3, 'four fills, capped at max_tokens');
});

const cfg = (over: Partial<LocalRateLimitConfig> = {}): LocalRateLimitConfig => ({
  statPrefix: 'p',
  status: 429,
  tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 60_000 },
  enabledPerMillion: 1_000_000,
  enforcedPerMillion: 1_000_000,
  ...over,
});

function request(route: LocalRateLimitConfig | undefined, random = 0.5): FilterRequest {
  const r: RouteConfig = { name: 'r', match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [] }, clusters: [], mirrors: [], perFilter: route ? { localRateLimit: route } : {} };
  return { request: { method: 'GET', path: '/', authority: 'a', scheme: 'http', headers: {} }, route: r, flags: [], random: () => random };
}

const rows: { title: string; listener?: LocalRateLimitConfig; route?: LocalRateLimitConfig; random?: number; replies: number[]; stats: string[] }[] = [
  { title: 'per-route bucket: one passes, the next is rejected', route: cfg(), replies: [0, 429], stats: ['enabled', 'ok', 'enabled', 'rate_limited', 'enforced'] },
  { title: 'a custom status', route: cfg({ status: 503 }), replies: [0, 503], stats: ['enabled', 'ok', 'enabled', 'rate_limited', 'enforced'] },
  { title: 'listener-level bucket for a route without config', listener: cfg(), replies: [0, 429], stats: ['enabled', 'ok', 'enabled', 'rate_limited', 'enforced'] },
  { title: 'not enabled (0%): nothing is checked or counted', route: cfg({ enabledPerMillion: 0 }), replies: [0, 0], stats: [] },
  { title: 'enabled for 30%, a request drawn at 0.5 is not checked', route: cfg({ enabledPerMillion: 300_000 }), random: 0.5, replies: [0, 0], stats: [] },
  { title: 'enabled, not enforced: counted, served', route: cfg({ enforcedPerMillion: 0 }), replies: [0, 0], stats: ['enabled', 'ok', 'enabled', 'rate_limited'] },
  { title: 'a listener config without a bucket limits nothing', listener: cfg({ tokenBucket: undefined }), replies: [0, 0], stats: ['enabled', 'ok', 'enabled', 'ok'] },
  { title: 'no config anywhere: the filter does nothing', replies: [0, 0], stats: [] },
];

for (const row of rows) {
  test(`local rate limit filter: ${row.title}`, async (t) => {
    const stats: string[] = [];
    const f = createLocalRateLimitFilter({ name: 'rl', typeUrl: TYPED_CONFIG.localRateLimit, ...(row.listener ? { localRateLimit: row.listener } : {}) }, (s) => stats.push(s), () => 0);
    const req = () => request(row.route, row.random);
    const replies: number[] = [];
    const shared = req();
    for (let i = 0; i < 2; i++) {
      const d = await f.onRequest(row.route ? shared : req());
      replies.push(d.kind === 'reply' ? d.reply.status : 0);
      if (d.kind === 'reply') {
        t.is(d.reply.flag, 'RL');
        t.is(d.reply.headers?.['x-envoy-ratelimited'], 'true');
      }
    }
    t.deepEqual(replies, row.replies);
    t.deepEqual(stats.map((s) => s.replace('p.http_local_rate_limit.', '')), row.stats);
    t.is(f.everyRoute, row.listener !== undefined);
  });
}
