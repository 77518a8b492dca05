import test from 'ava';
import type { IncomingHttpHeaders } from 'node:http';
import { pickWeightedCluster, type RequestView, routeRequest, selectVirtualHost, stripPort } from '../../src/dataplane/http/route-table.ts';
import { fullMatchRegex } from '../../src/xds/validate/route-matchers.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { createClusterManager } from '../../src/dataplane/cluster/index.ts';
import type { RouteTable } from '../../src/xds/config-types.ts';
import { endpoint, match, proxyConfig, route } from '../sidecar/support-config.ts';

function view(authority: string, path: string, headers: IncomingHttpHeaders = {}, method = 'GET'): RequestView {
  return { method, path, authority, scheme: 'http', headers };
}

function re(pattern: string, ignoreCase = false): RegExp {
  const r = fullMatchRegex(pattern, ignoreCase, 'test', new Issues());
  if (!r) throw new Error(`bad test regex ${pattern}`);
  return r;
}

const table: RouteTable = {
  name: 'outbound',
  virtualHosts: [
    { name: 'reviews', domains: ['reviews.default.svc.cluster.local', 'reviews', 'reviews:9080'], routes: [route('r', 'c-reviews')] },
    { name: 'ratings-port', domains: ['ratings:9080'], routes: [route('r', 'c-ratings-port')] },
    { name: 'ratings', domains: ['ratings'], routes: [route('r', 'c-ratings')] },
    {
      name: 'api',
      domains: ['api'],
      routes: [
        route('exact', 'c-exact', { match: match({ path: '/v1/exact' }) }),
        route('hdr', 'c-header', { match: match({ prefix: '/v1', headers: [{ name: 'x-canary', match: { exact: 'yes', ignoreCase: false }, invert: false }] }) }),
        route('hdr-prefix', 'c-header-prefix', { match: match({ prefix: '/v1', headers: [{ name: 'x-user', match: { prefix: 'admin-', ignoreCase: false }, invert: false }] }) }),
        route('method', 'c-post', { match: match({ prefix: '/v1', headers: [{ name: ':method', match: { exact: 'POST', ignoreCase: false }, invert: false }] }) }),
        route('no-debug', 'c-no-debug', { match: match({ prefix: '/v1/nd', headers: [{ name: 'x-debug', present: true, invert: true }] }) }),
        route('query', 'c-query', { match: match({ prefix: '/v1', queryParameters: [{ name: 'flavor', match: { exact: 'mint', ignoreCase: false } }] }) }),
        route('regex', 'c-regex', { match: match({ regex: re('/v1/items/[0-9]+') }) }),
        route('icase', 'c-icase', { match: match({ prefix: '/v1/case', caseSensitive: false }) }),
        route('v1', 'c-v1', { match: match({ prefix: '/v1' }) }),
      ],
    },
    { name: 'fallback', domains: ['*'], routes: [route('r', 'c-any', { match: match({ prefix: '/only' }) })] },
  ],
};

const hostTable: [host: string, vh: string | undefined][] = [
  ['reviews', 'reviews'],
  ['REVIEWS.default.svc.cluster.local', 'reviews'],
  ['reviews:9080', 'reviews'],
  ['reviews:1234', 'reviews'],
  ['ratings:9080', 'ratings-port'],
  ['ratings:1234', 'ratings'],
  ['ratings', 'ratings'],
  ['unknown.example', 'fallback'],
  ['', 'fallback'],
];
for (const [host, vh] of hostTable) {
  test(`virtual host for "${host}" is ${vh}`, (t) => {
    t.is(selectVirtualHost(table, host)?.name, vh);
  });
}

test('without a * domain an unknown host has no virtual host', (t) => {
  t.is(selectVirtualHost({ name: 'x', virtualHosts: [{ name: 'a', domains: ['a'], routes: [] }] }, 'b'), undefined);
});

const stripTable: [string, string][] = [
  ['a:80', 'a'],
  ['a', 'a'],
  ['[::1]:80', '[::1]'],
  ['::1', '::1'],
  ['a:b', 'a:b'],
];
for (const [input, out] of stripTable) test(`stripPort(${input}) = ${out}`, (t) => t.is(stripPort(input), out));

const routeTable: [path: string, headers: Record<string, string>, cluster: string | undefined][] = [
  ['/v1/exact', {}, 'c-exact'],
  ['/v1/exact?q=1', {}, 'c-exact'],
  ['/v1/exact/more', {}, 'c-v1'],
  ['/v1/x', { 'x-canary': 'yes' }, 'c-header'],
  ['/v1/x', { 'x-canary': 'no' }, 'c-v1'],
  ['/v1/x', { 'x-user': 'admin-bob' }, 'c-header-prefix'],
  ['/v1/x', { 'x-user': 'bob' }, 'c-v1'],
  ['/v2', {}, undefined],
  ['/v1/nd', {}, 'c-no-debug'],
  ['/v1/nd', { 'x-debug': '1' }, 'c-v1'],
  ['/v1/q?flavor=mint', {}, 'c-query'],
  ['/v1/q?a=1&flavor=mint', {}, 'c-query'],
  ['/v1/q?flavor=lemon', {}, 'c-v1'],
  ['/v1/items/42', {}, 'c-regex'],
  ['/v1/items/42?x=y', {}, 'c-regex'],
  ['/v1/items/42/more', {}, 'c-v1'],
  ['/V1/CASE/x', {}, 'c-icase'],
  ['/v1/case', {}, 'c-icase'],
];
for (const [path, headers, cluster] of routeTable) {
  test(`route api ${path} ${JSON.stringify(headers)} → ${cluster ?? 'NR'}`, (t) => {
    const d = routeRequest(table, view('api', path, headers));
    t.is(d.ok ? d.cluster?.name : undefined, cluster);
    if (!d.ok) t.is(d.flag, 'NR');
  });
}

test('pseudo-header :method matches the request method', (t) => {
  const d = routeRequest(table, view('api', '/v1/x', {}, 'POST'));
  t.is(d.ok ? d.cluster?.name : undefined, 'c-post');
});

test('a missing route table means NR', (t) => {
  t.deepEqual(routeRequest(undefined, view('api', '/')), { ok: false, flag: 'NR' });
});

const weighted = [
  { name: 'v1', weight: 80 },
  { name: 'v2', weight: 15 },
  { name: 'v3', weight: 5 },
];
const weightTable: [random: number, picked: string][] = [
  [0, 'v1'],
  [0.79, 'v1'],
  [0.8, 'v2'],
  [0.949, 'v2'],
  [0.95, 'v3'],
  [0.9999, 'v3'],
];
for (const [r, picked] of weightTable) {
  test(`weighted pick with random ${r} is ${picked}`, (t) => {
    t.is(pickWeightedCluster(weighted, () => r)?.name, picked);
  });
}

test('weighted pick over many draws follows the weights exactly for a uniform sequence', (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 100; i++) {
    const name = pickWeightedCluster(weighted, () => i / 100)?.name ?? '';
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  t.deepEqual(Object.fromEntries(counts), { v1: 80, v2: 15, v3: 5 });
});

test('weighted pick of nothing, or of zero weight, is undefined', (t) => {
  t.is(pickWeightedCluster([]), undefined);
  t.is(pickWeightedCluster([{ name: 'a', weight: 0 }]), undefined);
});

test('the cluster manager balances by endpoint weight, smoothly, over the best priority', (t) => {
  const cluster = { name: 'c', type: 'EDS' as const, edsServiceName: 'c', lbPolicy: 'ROUND_ROBIN' as const, connectTimeoutMs: 1000 };
  const cfg = proxyConfig({
    clusters: [cluster],
    endpoints: [
      {
        clusterName: 'c',
        endpoints: [endpoint('127.0.0.1', 1, { weight: 3 }), endpoint('127.0.0.2', 1, { weight: 1 }), endpoint('127.0.0.4', 1, { priority: 1 })],
      },
    ],
  });
  const clusters = createClusterManager();
  clusters.update(cfg);
  const picks = Array.from({ length: 8 }, () => {
    const p = clusters.pick('c', {});
    if (p.ok) p.release();
    return p.ok ? p.endpoint.address.host : p.flag;
  });
  t.is(picks.filter((h) => h === '127.0.0.1').length, 6);
  t.is(picks.filter((h) => h === '127.0.0.2').length, 2);
  t.not(picks.slice(0, 4).join(), '127.0.0.1,127.0.0.1,127.0.0.1,127.0.0.2', 'smooth: the light endpoint is not starved to the end');
});

test('failover: with no healthy endpoint at priority 0, priority 1 serves', (t) => {
  const cluster = { name: 'c', type: 'EDS' as const, edsServiceName: 'c', lbPolicy: 'ROUND_ROBIN' as const, connectTimeoutMs: 1000 };
  const cfg = proxyConfig({
    clusters: [cluster],
    endpoints: [{ clusterName: 'c', endpoints: [endpoint('127.0.0.1', 1, { healthy: false }), endpoint('127.0.0.4', 1, { priority: 1 })] }],
  });
  const clusters = createClusterManager();
  clusters.update(cfg);
  const p = clusters.pick('c', {});
  t.is(p.ok ? p.endpoint.address.host : p.flag, '127.0.0.4');
});
