import test from 'ava';
import { createClusterManager } from '../../src/dataplane/cluster/index.ts';
import { pickWeightedCluster, routeRequest, selectVirtualHost, stripPort } from '../../src/sidecar/index.ts';
import type { RouteTable } from '../../src/xds/config-types.ts';
import { endpoint, proxyConfig, route } from './support-config.ts';

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
        route('exact', 'c-exact', { match: { path: '/v1/exact', headers: [] } }),
        route('hdr', 'c-header', { match: { prefix: '/v1', headers: [{ name: 'x-canary', exact: 'yes' }] } }),
        route('hdr-prefix', 'c-header-prefix', { match: { prefix: '/v1', headers: [{ name: 'x-user', prefix: 'admin-' }] } }),
        route('v1', 'c-v1', { match: { prefix: '/v1', headers: [] } }),
      ],
    },
    { name: 'fallback', domains: ['*'], routes: [route('r', 'c-any', { match: { prefix: '/only', headers: [] } })] },
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
];
for (const [path, headers, cluster] of routeTable) {
  test(`route api ${path} ${JSON.stringify(headers)} → ${cluster ?? 'NR'}`, (t) => {
    const d = routeRequest(table, 'api', path, headers);
    t.is(d.ok ? d.cluster : undefined, cluster);
    if (!d.ok) t.is(d.flag, 'NR');
  });
}

test('a missing route table means NR', (t) => {
  t.deepEqual(routeRequest(undefined, 'api', '/', {}), { ok: false, flag: 'NR' });
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
