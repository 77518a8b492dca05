import test from 'ava';
import type { RouteTable } from '../../src/xds/config-types.ts';
import { validateRouteConfiguration } from '../../src/xds/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
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

const good: { title: string; resource: object; expected: RouteTable }[] = [
  {
    title: 'a single cluster becomes one entry of weight 1',
    resource: rc([{ name: 'default', match: { prefix: '/' }, route: { cluster: 'outbound|9080||reviews' } }]),
    expected: vhOut([{ name: 'default', match: { prefix: '/', headers: [] }, clusters: [{ name: 'outbound|9080||reviews', weight: 1 }] }]),
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
      {
        name: '0',
        match: { path: '/ratings', headers: [{ name: 'end-user', exact: 'jason' }, { name: 'x-canary', prefix: 'yes' }] },
        clusters: [
          { name: 'outbound|9080|v1|reviews', weight: 80 },
          { name: 'outbound|9080|v2|reviews', weight: 20 },
        ],
        timeoutMs: 2500,
      },
    ]),
  },
  {
    title: 'a virtual host without routes',
    resource: rc([]),
    expected: vhOut([]),
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
      {
        name: 'sticky',
        match: { prefix: '/', headers: [] },
        clusters: [{ name: 'c', weight: 1 }],
        hashPolicy: [
          { kind: 'header', name: 'x-user', terminal: false },
          { kind: 'cookie', name: 'session', path: '/', ttlMs: 60000, terminal: false },
          { kind: 'source-ip', terminal: false },
          { kind: 'query', name: 'u', terminal: true },
        ],
      },
    ]),
  },
];

for (const row of good) {
  test(`valid route configuration: ${row.title}`, (t) => {
    t.deepEqual(validateRouteConfiguration(decoded(row.resource)), { ok: true, value: row.expected });
  });
}

const r0 = 'virtual_hosts[0].routes[0]';
const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'a redirect action',
    resource: rc([{ match: { prefix: '/' }, redirect: { host_redirect: 'x' } }]),
    error: `${r0}.redirect: unsupported field`,
  },
  {
    title: 'a direct response',
    resource: rc([{ match: { prefix: '/' }, direct_response: { status: 200 } }]),
    error: `${r0}.direct_response: unsupported field`,
  },
  {
    title: 'a regex path match',
    resource: rc([{ match: { safe_regex: { regex: '.*' } }, route: { cluster: 'c' } }]),
    error: `${r0}.match.safe_regex: unsupported field`,
  },
  {
    title: 'a regex header match',
    resource: rc([{ match: { prefix: '/', headers: [{ name: 'h', string_match: { safe_regex: { regex: 'a' } } }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match.headers[0].string_match.safe_regex: unsupported field`,
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
    title: 'a retry policy',
    resource: rc([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { num_retries: { value: 3 } } } }]),
    error: `${r0}.route.retry_policy: unsupported field`,
  },
  {
    title: 'a route without action',
    resource: rc([{ match: { prefix: '/' } }]),
    error: `${r0}.route: missing`,
  },
  {
    title: 'a match without prefix or path',
    resource: rc([{ match: { headers: [{ name: 'h', string_match: { exact: 'a' } }] }, route: { cluster: 'c' } }]),
    error: `${r0}.match: one of prefix or path is required`,
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
