import test from 'ava';
import type { RouteConfig, RouteTable } from '../../src/xds/config-types.ts';
import { validateRouteConfiguration } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

const rc = (routes: object[], vh: Record<string, unknown> = {}) => ({
  '@type': TYPE_URL.route,
  name: 'outbound',
  virtual_hosts: [{ name: 'reviews', domains: ['Reviews.default.svc.cluster.local', 'reviews:9080'], routes, ...vh }],
});
const vhOut = (routes: RouteTable['virtualHosts'][number]['routes']): RouteTable => ({
  name: 'outbound',
  virtualHosts: [{ name: 'reviews', domains: ['reviews.default.svc.cluster.local', 'reviews:9080'], routes }],
});
const m = (extra: Partial<RouteConfig['match']> = {}): RouteConfig['match'] => ({ caseSensitive: true, headers: [], queryParameters: [], ...extra });
const base = (extra: Partial<RouteConfig>): RouteConfig => ({ name: '0', match: m({ prefix: '/' }), clusters: [], mirrors: [], perFilter: {}, ...extra });
const toC = [{ name: 'c', weight: 1 }];

const good: { title: string; resource: object; expected: RouteTable }[] = [
  {
    title: 'a single cluster becomes one entry of weight 1',
    resource: rc([{ name: 'default', match: { prefix: '/' }, route: { cluster: 'outbound|9080||reviews' } }]),
    expected: vhOut([base({ name: 'default', clusters: [{ name: 'outbound|9080||reviews', weight: 1 }] })]),
  },
  {
    title: 'weighted clusters, header matches and a timeout',
    resource: rc([
      {
        match: {
          path: '/ratings',
          headers: [
            { name: 'End-User', string_match: { exact: 'jason' } },
            { name: 'x-canary', string_match: { prefix: 'yes' } },
          ],
        },
        route: {
          weighted_clusters: {
            clusters: [
              { name: 'outbound|9080|v1|reviews', weight: { value: 80 } },
              { name: 'outbound|9080|v2|reviews', weight: { value: 20 } },
            ],
          },
          timeout: { seconds: '2', nanos: 500_000_000 },
        },
      },
    ]),
    expected: vhOut([
      base({
        match: m({
          path: '/ratings',
          headers: [
            { name: 'end-user', match: { exact: 'jason', ignoreCase: false }, invert: false },
            { name: 'x-canary', match: { prefix: 'yes', ignoreCase: false }, invert: false },
          ],
        }),
        clusters: [
          { name: 'outbound|9080|v1|reviews', weight: 80 },
          { name: 'outbound|9080|v2|reviews', weight: 20 },
        ],
        timeoutMs: 2500,
      }),
    ]),
  },
  {
    title: 'a virtual host without routes',
    resource: rc([]),
    expected: vhOut([]),
  },
  {
    title: 'case-insensitive prefix, present and inverted header matchers, query parameters',
    resource: rc([
      {
        match: {
          prefix: '/API',
          case_sensitive: { value: false },
          headers: [
            { name: ':method', string_match: { exact: 'GET' } },
            { name: 'x-debug', present_match: true, invert_match: true },
            { name: 'x-suffix', string_match: { suffix: '.EXAMPLE', ignore_case: true } },
          ],
          query_parameters: [{ name: 'flavor', string_match: { contains: 'mint' } }, { name: 'debug', present_match: true }],
        },
        route: { cluster: 'c' },
      },
    ]),
    expected: vhOut([
      base({
        match: m({
          prefix: '/api',
          caseSensitive: false,
          headers: [
            { name: ':method', match: { exact: 'GET', ignoreCase: false }, invert: false },
            { name: 'x-debug', present: true, invert: true },
            { name: 'x-suffix', match: { suffix: '.example', ignoreCase: true }, invert: false },
          ],
          queryParameters: [
            { name: 'flavor', match: { contains: 'mint', ignoreCase: false } },
            { name: 'debug', present: true },
          ],
        }),
        clusters: toC,
      }),
    ]),
  },
  {
    title: 'retries, mirror, rewrite and header edits',
    resource: rc([
      {
        match: { prefix: '/v1/' },
        route: {
          cluster: 'c',
          retry_policy: {
            retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
            num_retries: { value: 2 },
            per_try_timeout: { nanos: 200_000_000 },
            retriable_status_codes: [503],
            retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPED_CONFIG.previousHosts } }],
            host_selection_retry_max_attempts: '5',
          },
          request_mirror_policies: [{ cluster: 'mirror', runtime_fraction: { default_value: { numerator: 25, denominator: 'HUNDRED' } } }],
          prefix_rewrite: '/v2/',
          host_rewrite_literal: 'backend.example',
        },
        request_headers_to_add: [
          { header: { key: 'X-Set', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
          { header: { key: 'x-add', value: '2' } },
        ],
        request_headers_to_remove: ['X-Drop'],
        response_headers_to_add: [{ header: { key: 'x-resp', value: 'r' }, append: { value: false } }],
      },
    ]),
    expected: vhOut([
      base({
        match: m({ prefix: '/v1/' }),
        clusters: toC,
        retry: {
          retryOn: new Set(['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']),
          numRetries: 2,
          perTryTimeoutMs: 200,
          retriableStatusCodes: [503],
          avoidPreviousHosts: true,
          hostSelectionRetryMaxAttempts: 5,
        },
        mirrors: [{ cluster: 'mirror', perMillion: 250_000 }],
        rewrite: { prefix: '/v2/', host: 'backend.example' },
        requestHeaders: { set: [['x-set', '1']], add: [['x-add', '2']], remove: ['x-drop'] },
        responseHeaders: { set: [['x-resp', 'r']], add: [], remove: [] },
      }),
    ]),
  },
  {
    title: 'retries to other priorities (previous_priorities, as Istio writes retryRemoteLocalities)',
    resource: rc([
      {
        match: { prefix: '/' },
        route: {
          cluster: 'c',
          retry_policy: {
            retry_on: '5xx',
            num_retries: { value: 2 },
            retry_priority: { name: 'envoy.retry_priorities.previous_priorities', typed_config: { '@type': TYPED_CONFIG.previousPriorities, update_frequency: 2 } },
          },
        },
      },
    ]),
    expected: vhOut([
      base({
        clusters: toC,
        retry: {
          retryOn: new Set(['5xx']),
          numRetries: 2,
          retriableStatusCodes: [],
          avoidPreviousHosts: false,
          hostSelectionRetryMaxAttempts: 1,
          previousPrioritiesUpdateFrequency: 2,
        },
      }),
    ]),
  },
  {
    title: 'a redirect and a direct response',
    resource: rc([
      { match: { path: '/old' }, redirect: { host_redirect: 'new.example', path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } },
      { match: { prefix: '/' }, direct_response: { status: 418, body: { inline_string: 'teapot' } } },
    ]),
    expected: vhOut([
      base({ match: m({ path: '/old' }), redirect: { host: 'new.example', path: '/new', responseCode: 308, stripQuery: false } }),
      base({ name: '1', directResponse: { status: 418, body: 'teapot' } }),
    ]),
  },
  {
    title: 'per-route fault and CORS',
    resource: rc([
      {
        match: { prefix: '/' },
        route: { cluster: 'c' },
        typed_per_filter_config: {
          'envoy.filters.http.fault': {
            '@type': TYPED_CONFIG.fault,
            delay: { fixed_delay: { seconds: '1' }, percentage: { numerator: 10, denominator: 'HUNDRED' } },
            abort: { http_status: 503, percentage: { numerator: 5000, denominator: 'MILLION' } },
          },
          'envoy.filters.http.cors': {
            '@type': TYPED_CONFIG.corsPolicy,
            allow_origin_string_match: [{ exact: 'https://shop.example' }],
            allow_methods: 'GET,POST',
            max_age: '86400',
            allow_credentials: { value: true },
          },
        },
      },
    ]),
    expected: vhOut([
      base({
        clusters: toC,
        perFilter: {
          fault: { delay: { ms: 1000, perMillion: 100_000 }, abort: { perMillion: 5000, httpStatus: 503 } },
          cors: { allowOrigins: [{ exact: 'https://shop.example', ignoreCase: false }], allowMethods: 'GET,POST', maxAge: '86400', allowCredentials: true },
        },
      }),
    ]),
  },
  {
    title: 'hash policies (header, cookie with ttl and path, source ip, query parameter, terminal)',
    resource: rc([
      {
        name: 'sticky',
        match: { prefix: '/' },
        route: {
          cluster: 'c',
          hash_policy: [
            { header: { header_name: 'X-User' } },
            { cookie: { name: 'session', path: '/', ttl: { seconds: '60' } } },
            { connection_properties: { source_ip: true } },
            { query_parameter: { name: 'u' }, terminal: true },
          ],
        },
      },
    ]),
    expected: vhOut([
      base({
        name: 'sticky',
        clusters: [{ name: 'c', weight: 1 }],
        hashPolicy: [
          { kind: 'header', name: 'x-user', terminal: false },
          { kind: 'cookie', name: 'session', path: '/', ttlMs: 60000, terminal: false },
          { kind: 'source-ip', terminal: false },
          { kind: 'query', name: 'u', terminal: true },
        ],
      }),
    ]),
  },
];

for (const row of good) {
  test(`valid route configuration: ${row.title}`, (t) => {
    t.deepEqual(validateRouteConfiguration(decoded(row.resource)), { ok: true, value: row.expected });
  });
}

test('valid route configuration: a regex path match is a full match, and regex rewrite substitutes groups', (t) => {
  const r = validateRouteConfiguration(
    decoded(rc([{ match: { safe_regex: { regex: '/items/([0-9]+)' } }, route: { cluster: 'c', regex_rewrite: { pattern: { regex: '^/items/([0-9]+)$' }, substitution: '/v2/item/\\1' } } }])),
  );
  if (!r.ok) return t.fail(r.errors.join('; '));
  const route = r.value.virtualHosts[0]?.routes[0];
  t.true(route?.match.regex?.test('/items/42'));
  t.false(route?.match.regex?.test('/items/42/x'));
  const rw = route?.rewrite?.regex;
  t.is('/items/42'.replace(rw?.pattern ?? /x/, rw?.substitution ?? ''), '/v2/item/42');
});

const r0 = 'virtual_hosts[0].routes[0]';
const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'weighted clusters whose weights do not add up to total_weight',
    resource: rc([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 60 } }, { name: 'b', weight: { value: 30 } }], total_weight: { value: 100 } } } }]),
    error: `${r0}.route.weighted_clusters.total_weight: is 100, but the weights add up to 90`,
  },
  {
    title: 'validate_clusters true (routes are not checked against the cluster set)',
    resource: { ...rc([{ match: { prefix: '/' }, route: { cluster: 'c' } }]), validate_clusters: { value: true } },
    error: 'validate_clusters: not supported: routes are not checked against the cluster set',
  },
  {
    title: 'an unknown retry condition',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx,sometimes' } } }]),
    error: `${r0}.route.retry_policy.retry_on: unsupported retry condition "sometimes"`,
  },
  {
    title: 'a retry priority other than previous_priorities',
    resource: rc([
      {
        match: { prefix: '/' },
        route: { cluster: 'c', retry_policy: { retry_on: '5xx', retry_priority: { name: 'custom', typed_config: { '@type': TYPED_CONFIG.previousHosts } } } },
      },
    ]),
    error: `${r0}.route.retry_policy.retry_priority.typed_config: unsupported retry priority "${TYPED_CONFIG.previousHosts}"`,
  },
  {
    title: 'previous_priorities without an update_frequency',
    resource: rc([
      {
        match: { prefix: '/' },
        route: { cluster: 'c', retry_policy: { retry_on: '5xx', retry_priority: { name: 'p', typed_config: { '@type': TYPED_CONFIG.previousPriorities } } } },
      },
    ]),
    error: `${r0}.route.retry_policy.retry_priority.typed_config.update_frequency: must be greater than 0`,
  },
  {
    title: 'a retry back-off (not honoured)',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx', retry_back_off: { base_interval: { seconds: '1' } } } } }]),
    error: `${r0}.route.retry_policy.retry_back_off: unsupported field`,
  },
  {
    title: 'an invalid regex',
    resource: rc([{ match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } }]),
    error: `${r0}.match.safe_regex.regex: invalid regex "(": Invalid regular expression: /^(?:()$/u: Unterminated group`,
  },
  {
    title: 'RE2 syntax JavaScript reads differently',
    resource: rc([{ match: { prefix: '/', headers: [{ name: 'h', string_match: { safe_regex: { regex: '(?P<n>a)' } } }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match.headers[0].string_match.safe_regex.regex: RE2 syntax that JavaScript cannot match the same way: "(?P<n>a)"`,
  },
  {
    title: 'a zero weight',
    resource: rc([
      { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 1 } }, { name: 'b', weight: { value: 0 } }] } } },
    ]),
    error: `${r0}.route.weighted_clusters.clusters[1].weight.value: must be an integer in [1, 4294967295]`,
  },
  {
    title: 'a missing weight',
    resource: rc([{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a' }] } } }]),
    error: `${r0}.route.weighted_clusters.clusters[0].weight: missing`,
  },
  {
    title: 'a filter-state hash policy',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ filter_state: { key: 'k' } }] } }]),
    error: `${r0}.route.hash_policy[0].filter_state: unsupported field`,
  },
  {
    title: 'a header hash policy with a regex rewrite',
    resource: rc([
      { match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ header: { header_name: 'x', regex_rewrite: { substitution: 'y' } } }] } },
    ]),
    error: `${r0}.route.hash_policy[0].header.regex_rewrite: unsupported field`,
  },
  {
    title: 'cookie attributes',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', hash_policy: [{ cookie: { name: 's', attributes: [{ name: 'SameSite', value: 'Lax' }] } }] } }]),
    error: `${r0}.route.hash_policy[0].cookie.attributes: unsupported field`,
  },
  {
    title: 'a route without action',
    resource: rc([{ match: { prefix: '/' } }]),
    error: `${r0}: exactly one of route, redirect or direct_response is required`,
  },
  {
    title: 'a match without prefix, path or regex',
    resource: rc([{ match: { headers: [{ name: 'h', string_match: { exact: 'a' } }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match: exactly one of prefix, path or safe_regex is required`,
  },
  {
    title: 'a header matcher with neither string nor present match',
    resource: rc([{ match: { prefix: '/', headers: [{ name: 'h' }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match.headers[0]: one of string_match or present_match is required`,
  },
  {
    title: 'a range header match',
    resource: rc([{ match: { prefix: '/', headers: [{ name: 'h', range_match: { start: '1', end: '5' } }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match.headers[0].range_match: unsupported field`,
  },
  {
    title: 'an unknown per-route filter config',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { 'envoy.filters.http.router': { '@type': TYPED_CONFIG.router } } }]),
    error: `${r0}.typed_per_filter_config.envoy.filters.http.router: unsupported per-route filter config "${TYPED_CONFIG.router}"`,
  },
  {
    title: 'a fault abort without a status',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { f: { '@type': TYPED_CONFIG.fault, abort: { percentage: { numerator: 1 } } } } }]),
    error: `${r0}.typed_per_filter_config.f.abort: exactly one of http_status or grpc_status is required`,
  },
  {
    title: 'a fault that limits response rate (not honoured)',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c' }, typed_per_filter_config: { f: { '@type': TYPED_CONFIG.fault, max_active_faults: { value: 1 }, abort: { http_status: 500 } } } }]),
    error: `${r0}.typed_per_filter_config.f.max_active_faults: unsupported field`,
  },
  {
    title: 'a mirror without a cluster',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', request_mirror_policies: [{}] } }]),
    error: `${r0}.route.request_mirror_policies[0].cluster: missing`,
  },
  {
    title: 'header edit of a pseudo-header',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [{ header: { key: ':path', value: '/x' } }] }]),
    error: `${r0}.request_headers_to_add: cannot edit :path`,
  },
  {
    title: 'a virtual host without domains',
    resource: rc([], { domains: [] }),
    error: 'virtual_hosts[0].domains: empty',
  },
  {
    title: 'no name',
    resource: { '@type': TYPE_URL.route, virtual_hosts: [] },
    error: 'name: missing',
  },
];

for (const row of bad) {
  test(`invalid route configuration: ${row.title}`, (t) => {
    const r = validateRouteConfiguration(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}
