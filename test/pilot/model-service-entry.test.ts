import test from 'ava';
import { diffSnapshots, viewFor } from '../../src/pilot/model/index.ts';
import { clustersOf, EXPORT_TO_CONFIG, endpointRows, endpointsOf, exportToSnapshot, richSnapshot, routesOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/** ServiceEntry hosts in the model and generators, and exportTo as each namespace's proxies see it. */

const inDefault = proxyNode('sidecar');
const inOther = proxyNode('sidecar', { workload: 'nobody', ip: '127.0.1.50', namespace: 'other' });
const HTTPBIN = 'outbound|80||httpbin.org';
const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

test('a STATIC ServiceEntry host is a service named as written, with its endpoints at their target ports and weights', (t) => {
  const snap = exportToSnapshot();
  t.deepEqual(snap.services.get('httpbin.org'), { hostname: 'httpbin.org', name: 'httpbin.org', namespace: 'other', ports: [{ port: 80, protocol: 'http' }], exportTo: ['other'] });
  t.deepEqual(
    snap.endpoints.get('httpbin.org')?.map((e) => [e.kind, e.kind === 'local' ? `${e.address}:${e.targetPort ?? e.port}` : '', e.kind === 'local' ? e.sidecar : true, e.kind === 'local' ? (e.weight ?? 1) : 0]),
    [
      ['local', '127.0.9.1:80', false, 1],
      ['local', '127.0.9.2:8080', false, 2],
    ],
  );
});

test('MESH_EXTERNAL endpoints are plaintext (tlsMode disabled, no TLS on the cluster) for the namespace it is exported to', (t) => {
  const snap = exportToSnapshot();
  const cluster = clustersOf(inOther, snap).get(HTTPBIN);
  t.is(cluster?.type, 'EDS');
  t.is(cluster?.transport_socket, undefined);
  t.deepEqual(endpointRows(endpointsOf(inOther, snap).get(HTTPBIN)), [
    ['east', 3, '127.0.9.1:80', 1, 'HEALTHY', { istio: { tlsMode: 'disabled', cluster_id: 'east' }, meshfed: { workload: 'httpbin', namespace: 'other' } }],
    ['east', 3, '127.0.9.2:8080', 2, 'HEALTHY', { istio: { tlsMode: 'disabled', cluster_id: 'east' }, meshfed: { workload: 'httpbin', namespace: 'other' } }],
  ]);
  const vhost = routesOf(inOther, snap).get('outbound')?.virtual_hosts.find((v) => v.name === 'httpbin.org:80');
  t.deepEqual(vhost?.domains, ['httpbin.org', 'httpbin.org:80']);
});

const visibility: { title: string; check: (proxy: typeof inDefault) => boolean; default: boolean; other: boolean }[] = [
  { title: 'ServiceEntry exportTo "." (CDS)', check: (p) => clustersOf(p, exportToSnapshot()).has(HTTPBIN), default: false, other: true },
  { title: 'ServiceEntry exportTo "." (EDS)', check: (p) => endpointsOf(p, exportToSnapshot()).has(HTTPBIN), default: false, other: true },
  {
    title: 'ServiceEntry exportTo "." (RDS)',
    check: (p) => (routesOf(p, exportToSnapshot()).get('outbound')?.virtual_hosts ?? []).some((v) => v.name === 'httpbin.org:80'),
    default: false,
    other: true,
  },
  {
    title: 'VirtualService exportTo "." routes only its own namespace to subset v1',
    check: (p) =>
      JSON.stringify(routesOf(p, exportToSnapshot()).get('outbound')?.virtual_hosts.find((v) => v.name === `${REVIEWS}:9080`)?.routes).includes(
        `outbound|9080|v1|${REVIEWS}`,
      ),
    default: true,
    other: false,
  },
  { title: 'DestinationRule exportTo "." (other) makes the subset cluster', check: (p) => clustersOf(p, exportToSnapshot()).has(`outbound|9080|v1|${RATINGS}`), default: false, other: true },
  { title: 'registry services are seen everywhere', check: (p) => clustersOf(p, exportToSnapshot()).has(`outbound|9080||${RATINGS}`), default: true, other: true },
];

for (const c of visibility) {
  test(`exportTo: ${c.title}`, (t) => {
    t.is(c.check(inDefault), c.default, 'proxy in default');
    t.is(c.check(inOther), c.other, 'proxy in other');
  });
}

test('a snapshot with nothing restricted is its own view in every namespace (generated resources stay shared)', (t) => {
  const snap = richSnapshot();
  t.is(viewFor(snap, 'default'), snap);
  t.is(viewFor(snap, 'other'), snap);
  const restricted = exportToSnapshot();
  t.not(viewFor(restricted, 'other'), restricted);
  t.is(viewFor(restricted, 'other'), viewFor(restricted, 'other'));
});

test('MESH_INTERNAL workloadSelector: the matching workloads of its namespace, through their sidecars (mTLS)', (t) => {
  const snap = new SnapshotBuilder()
    .workload('legacy-1', 'legacy', 7000, { labels: { app: 'legacy' } })
    .workload('legacy-2', 'legacy', 7000, { labels: { app: 'legacy' }, namespace: 'elsewhere' })
    .workload('other-1', 'other', 7000, { labels: { app: 'other' } })
    .yaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: legacy}
spec:
  hosts: [legacy.internal]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 7000}]
  resolution: STATIC
  workloadSelector: {labels: {app: legacy}}
`)
    .build();
  t.deepEqual(endpointRows(endpointsOf(inDefault, snap).get('outbound|80||legacy.internal')), [
    ['east', 1, '127.0.1.1:7000', 1, 'HEALTHY', {
      istio: { tlsMode: 'istio', cluster_id: 'east' },
      meshfed: { inbound_port: 15006, workload: 'legacy-1', namespace: 'default' },
    }],
  ]);
  t.not(clustersOf(inDefault, snap).get('outbound|80||legacy.internal')?.transport_socket, undefined);
});

test('a ServiceEntry naming a registry host leaves the registry service as it is', (t) => {
  const snap = new SnapshotBuilder()
    .workload('reviews-v1', 'reviews', 9080)
    .yaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shadow}
spec:
  hosts: [${REVIEWS}]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.9.9}]
  exportTo: ["."]
`)
    .build();
  t.deepEqual(snap.services.get(REVIEWS)?.ports, [{ port: 9080, protocol: 'http' }]);
  t.deepEqual(snap.endpoints.get(REVIEWS)?.map((e) => e.workload), ['reviews-v1']);
});

test('a change of exportTo alone is a full push', (t) => {
  const before = new SnapshotBuilder().yaml(EXPORT_TO_CONFIG).build('v1');
  const after = new SnapshotBuilder().yaml(EXPORT_TO_CONFIG.replace('exportTo: ["."]\n  http', 'exportTo: ["*"]\n  http')).build('v2');
  t.is(diffSnapshots(before, after).scope, 'full');
  const weight = new SnapshotBuilder().yaml(EXPORT_TO_CONFIG.replace('weight: 2', 'weight: 5')).build('v3');
  t.deepEqual([...diffSnapshots(before, weight).hostnames], ['httpbin.org']);
});

test('DestinationRule lookup: the proxy namespace\'s rule first, then the service namespace\'s', (t) => {
  const dr = (ns: string, subset: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings, namespace: ${ns}}
spec:
  host: ${RATINGS}
  subsets: [{name: ${subset}, labels: {version: ${subset}}}]
`;
  const snap = new SnapshotBuilder()
    .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080)
    .yaml([dr('aaa', 'from-aaa'), dr('default', 'from-default'), dr('other', 'from-other')].join('---\n'))
    .build();
  const subsetClusters = (p: typeof inDefault): string[] => [...clustersOf(p, snap).keys()].filter((n) => n.startsWith('outbound|9080|from-'));
  t.deepEqual(subsetClusters(inOther), [`outbound|9080|from-other|${RATINGS}`]);
  t.deepEqual(subsetClusters(inDefault), [`outbound|9080|from-default|${RATINGS}`]);
  t.deepEqual(subsetClusters(proxyNode('sidecar', { workload: 'x', ip: '127.0.1.70', namespace: 'third' })), [`outbound|9080|from-default|${RATINGS}`]);
});
