import test from 'ava';
import type { LocalRateLimitConfig } from '../../src/xds/config-types.ts';
import { validateListener, validateRouteConfiguration } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/**
 * The local rate limit config (`envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`)
 * as a sidecar validates it, through the wire: on the HCM's filter list and on a route. Every
 * field meshfed does not honour is NACKed with its path.
 */

const ALWAYS = { default_value: { numerator: 100, denominator: 'HUNDRED' } };
const BUCKET = { max_tokens: 10, tokens_per_fill: { value: 2 }, fill_interval: { seconds: '1' } };

function listenerWith(rl: Record<string, unknown> | undefined) {
  return {
    '@type': TYPE_URL.listener,
    name: 'virtualOutbound',
    address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPED_CONFIG.httpConnectionManager,
              stat_prefix: 'outbound',
              rds: { route_config_name: 'outbound', config_source: { ads: {} } },
              http_filters: [
                { name: 'envoy.filters.http.local_ratelimit', typed_config: { '@type': TYPED_CONFIG.localRateLimit, ...rl } },
                { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } },
              ],
            },
          },
        ],
      },
    ],
  };
}

function routesWith(rl: Record<string, unknown>) {
  return {
    '@type': TYPE_URL.route,
    name: 'outbound',
    virtual_hosts: [
      {
        name: 'a',
        domains: ['a'],
        routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { 'envoy.filters.http.local_ratelimit': { '@type': TYPED_CONFIG.localRateLimit, ...rl } } }],
      },
    ],
  };
}

const RL_PATH = 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config';
const ROUTE_PATH = 'virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.local_ratelimit';

function listenerRl(rl: Record<string, unknown>): { ok: true; value: LocalRateLimitConfig | undefined } | { ok: false; errors: string[] } {
  const r = validateListener(decoded(listenerWith(rl)));
  if (!r.ok) return r;
  const chain = r.value.filterChains[0];
  return { ok: true, value: chain?.kind === 'http' ? chain.httpFilters[0]?.localRateLimit : undefined };
}

function routeRl(rl: Record<string, unknown>): { ok: true; value: LocalRateLimitConfig | undefined } | { ok: false; errors: string[] } {
  const r = validateRouteConfiguration(decoded(routesWith(rl)));
  if (!r.ok) return r;
  return { ok: true, value: r.value.virtualHosts[0]?.routes[0]?.perFilter.localRateLimit };
}

const accepted: { title: string; where: 'listener' | 'route'; rl: Record<string, unknown>; expected: LocalRateLimitConfig }[] = [
  {
    title: 'listener level, everything honoured',
    where: 'listener',
    rl: {
      stat_prefix: 'http_local_rate_limiter',
      status: { code: 503 },
      token_bucket: BUCKET,
      filter_enabled: ALWAYS,
      filter_enforced: { default_value: { numerator: 50, denominator: 'HUNDRED' } },
      response_headers_to_add: [{ header: { key: 'X-Local-Rate-Limit', value: 'true' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    },
    expected: {
      statPrefix: 'http_local_rate_limiter',
      status: 503,
      tokenBucket: { maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 1000 },
      enabledPerMillion: 1_000_000,
      enforcedPerMillion: 500_000,
      responseHeaders: { set: [['x-local-rate-limit', 'true']], add: [], remove: [] },
    },
  },
  {
    title: 'listener level without a bucket (routes carry theirs), defaults: 429, 0% enabled and enforced',
    where: 'listener',
    rl: { stat_prefix: 'rl' },
    expected: { statPrefix: 'rl', status: 429, enabledPerMillion: 0, enforcedPerMillion: 0 },
  },
  {
    title: 'a status below 400 becomes 429 (Envoy); tokens_per_fill defaults to 1',
    where: 'route',
    rl: { stat_prefix: 'rl', status: { code: 302 }, token_bucket: { max_tokens: 1, fill_interval: { nanos: 50_000_000 } } },
    expected: { statPrefix: 'rl', status: 429, tokenBucket: { maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 50 }, enabledPerMillion: 0, enforcedPerMillion: 0 },
  },
  {
    title: 'route level with a MILLION fraction',
    where: 'route',
    rl: { stat_prefix: 'r', token_bucket: BUCKET, filter_enabled: { default_value: { numerator: 250_000, denominator: 'MILLION' } } },
    expected: { statPrefix: 'r', status: 429, tokenBucket: { maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 1000 }, enabledPerMillion: 250_000, enforcedPerMillion: 0 },
  },
];

for (const row of accepted) {
  test(`local rate limit accepted: ${row.title}`, (t) => {
    const r = row.where === 'listener' ? listenerRl(row.rl) : routeRl(row.rl);
    if (!r.ok) return t.fail(r.errors.join(' | '));
    t.deepEqual(r.value, row.expected);
  });
}

const nacked: { title: string; where: 'listener' | 'route'; rl: Record<string, unknown>; error: string }[] = [
  { title: 'no stat_prefix', where: 'listener', rl: { token_bucket: BUCKET }, error: `${RL_PATH}.stat_prefix: missing` },
  { title: 'a route config without a token bucket', where: 'route', rl: { stat_prefix: 'r' }, error: `${ROUTE_PATH}.token_bucket: required on a per-route config` },
  { title: 'max_tokens 0', where: 'route', rl: { stat_prefix: 'r', token_bucket: { fill_interval: { seconds: '1' } } }, error: `${ROUTE_PATH}.token_bucket.max_tokens: must be greater than 0` },
  { title: 'no fill_interval', where: 'route', rl: { stat_prefix: 'r', token_bucket: { max_tokens: 1 } }, error: `${ROUTE_PATH}.token_bucket.fill_interval: missing` },
  {
    title: 'a fill interval under 50 ms',
    where: 'route',
    rl: { stat_prefix: 'r', token_bucket: { max_tokens: 1, fill_interval: { nanos: 10_000_000 } } },
    error: `${ROUTE_PATH}.token_bucket.fill_interval: must be at least 50 ms`,
  },
  { title: 'descriptors', where: 'listener', rl: { stat_prefix: 'r', descriptors: [{ entries: [{ key: 'k', value: 'v' }], token_bucket: BUCKET }] }, error: `${RL_PATH}.descriptors: unsupported field` },
  { title: 'stage', where: 'listener', rl: { stat_prefix: 'r', stage: 1 }, error: `${RL_PATH}.stage: unsupported field` },
  { title: 'a runtime key', where: 'route', rl: { stat_prefix: 'r', token_bucket: BUCKET, filter_enabled: { ...ALWAYS, runtime_key: 'k' } }, error: `${ROUTE_PATH}.filter_enabled.runtime_key: unsupported field` },
  { title: 'x-ratelimit headers', where: 'route', rl: { stat_prefix: 'r', token_bucket: BUCKET, enable_x_ratelimit_headers: 'DRAFT_VERSION_03' }, error: `${ROUTE_PATH}.enable_x_ratelimit_headers: unsupported field` },
  { title: 'per-connection buckets', where: 'route', rl: { stat_prefix: 'r', token_bucket: BUCKET, local_rate_limit_per_downstream_connection: true }, error: `${ROUTE_PATH}.local_rate_limit_per_downstream_connection: unsupported field` },
  {
    title: 'request headers when not enforced',
    where: 'route',
    rl: { stat_prefix: 'r', token_bucket: BUCKET, request_headers_to_add_when_not_enforced: [{ header: { key: 'x', value: '1' } }] },
    error: `${ROUTE_PATH}.request_headers_to_add_when_not_enforced: unsupported field`,
  },
  { title: 'RESOURCE_EXHAUSTED for gRPC', where: 'route', rl: { stat_prefix: 'r', token_bucket: BUCKET, rate_limited_as_resource_exhausted: true }, error: `${ROUTE_PATH}.rate_limited_as_resource_exhausted: unsupported field` },
];

for (const row of nacked) {
  test(`local rate limit NACKed: ${row.title}`, (t) => {
    const r = row.where === 'listener' ? listenerRl(row.rl) : routeRl(row.rl);
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}

test('local rate limit on an inline (inbound) route table is NACKed: only the router runs there', (t) => {
  const l = {
    '@type': TYPE_URL.listener,
    name: 'virtualInbound',
    address: { socket_address: { address: '127.0.0.1', port_value: 15006 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPED_CONFIG.httpConnectionManager,
              stat_prefix: 'inbound',
              route_config: routesWith({ stat_prefix: 'r', token_bucket: BUCKET }),
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
            },
          },
        ],
      },
    ],
  };
  const r = validateListener(decoded(l));
  t.false(r.ok);
  if (!r.ok) t.true(r.errors.some((e) => e.includes('typed_per_filter_config is not supported on an inline (inbound) route table')), r.errors.join(' | '));
});
