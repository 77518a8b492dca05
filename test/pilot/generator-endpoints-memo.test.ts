import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../src/pilot/model/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import type { XdsResource } from '../../src/xds/resources.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * ClusterLoadAssignments are memoised across snapshots by endpoint-list identity plus every other
 * input generator-endpoints.ts reads. Each row changes one input alone, over a snapshot built with
 * the previous one (so unchanged endpoint lists are the same objects and the memo is consulted):
 * the output must change, and must equal the output over a snapshot built from scratch. A memo key
 * that missed the input would serve the old assignment.
 */

const REGION = 'topology.kubernetes.io/region';
const doc = (s: string): string => `${s}\n---\n`;
const DR = (spec: string): string => doc(`apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n${spec}`);
const SE = (resolution: string): string =>
  doc(`apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api}\nspec:\n  hosts: [api.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: ${resolution}\n  endpoints: [{address: 127.66.1.1}]`);
const SIDECAR = doc('apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\nspec:\n  egress: [{hosts: ["./ratings.default.svc.cluster.local"]}]');
const EXPORT = doc('apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceExport\nmetadata: {name: reviews}');
const OUTLIER = '    outlierDetection: {consecutive5xxErrors: 1}';

function mesh(yaml: string, opts: { moved?: boolean } = {}): SnapshotBuilder {
  const b = new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('productpage-v1', 'productpage', 9080)
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1', [REGION]: 'r1' } })
    .workload('reviews-v2', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2', [REGION]: 'r2' }, ...(opts.moved ? { address: '127.0.1.99' } : {}) })
    .workload('ratings-v1', 'ratings', 9080)
    .imported('west', '10.1.0.1', 'reviews-v3', 'reviews', 9080, { version: 'v3', [REGION]: 'r2' });
  return yaml === '' ? b : b.yaml(yaml);
}

const sidecar = proxyNode('sidecar', { labels: { app: 'productpage', version: 'v1', [REGION]: 'r1' } });

interface Row {
  title: string;
  before: string;
  after: string;
  moved?: boolean;
  proxy?: ProxyNode;
  proxyAfter?: ProxyNode;
}

const rows: Row[] = [
  { title: 'the endpoint list (a replica moves)', before: '', after: '', moved: true },
  { title: 'a subset’s label selector', before: DR('  subsets: [{name: s, labels: {version: v1}}]'), after: DR('  subsets: [{name: s, labels: {version: v2}}]') },
  { title: 'plaintext (merged tls DISABLE drops remote endpoints)', before: DR('  trafficPolicy: {connectionPool: {tcp: {maxConnections: 5}}}'), after: DR('  trafficPolicy: {tls: {mode: DISABLE}}') },
  {
    title: 'failover priorities (failoverPriority with outlier detection)',
    before: DR(`  trafficPolicy:\n${OUTLIER}`),
    after: DR(`  trafficPolicy:\n${OUTLIER}\n    loadBalancer: {localityLbSetting: {failoverPriority: [version]}}`),
  },
  {
    title: 'the sidecar’s own locality under a failover plan',
    before: DR(`  trafficPolicy:\n${OUTLIER}\n    loadBalancer: {localityLbSetting: {failoverPriority: [version]}}`),
    after: DR(`  trafficPolicy:\n${OUTLIER}\n    loadBalancer: {localityLbSetting: {failoverPriority: [version]}}`),
    proxyAfter: proxyNode('sidecar', { labels: { app: 'productpage', version: 'v2', [REGION]: 'r2' } }),
  },
  {
    title: 'locality weights (distribute)',
    before: '',
    after: DR('  trafficPolicy:\n    loadBalancer: {localityLbSetting: {distribute: [{from: "*", to: {"r1/*": 90, "r2/*": 10}}]}}'),
  },
  { title: 'the view (a proxyless client dials apps in plaintext)', before: '', after: '', proxyAfter: proxyNode('proxyless', { ip: '127.0.1.60', workload: 'client' }) },
  { title: 'DNS resolution (a DNS-resolved host has no assignment)', before: SE('STATIC'), after: SE('DNS') },
  { title: 'the Sidecar scope (egress narrowed to ratings)', before: '', after: SIDECAR },
  {
    title: 'the gateway’s locality plan',
    before: EXPORT,
    after: `${EXPORT}${DR('  trafficPolicy:\n    loadBalancer: {localityLbSetting: {distribute: [{from: "*", to: {"r1/*": 90, "r2/*": 10}}]}}')}`,
    proxy: proxyNode('router', { ip: '127.0.2.1', labels: { [REGION]: 'r1' } }),
  },
];

const eds = (proxy: ProxyNode, snap: Snapshot): XdsResource[] => generate(proxy, TYPE_URL.endpoint, snap);

for (const row of rows) {
  test(`an EDS memo hit never hides a change of ${row.title}`, (t) => {
    const proxy = row.proxy ?? sidecar;
    const after = row.proxyAfter ?? proxy;
    const s1 = mesh(row.before).build('v1');
    const before = JSON.stringify(eds(proxy, s1));
    const s2 = mesh(row.after, { moved: row.moved === true }).build('v2', s1);
    const fresh = mesh(row.after, { moved: row.moved === true }).build('v2');
    if (row.moved !== true) t.is(s2.endpoints.get('reviews.default.svc.cluster.local'), s1.endpoints.get('reviews.default.svc.cluster.local'), 'unchanged endpoint lists are shared');
    const shared = JSON.stringify(eds(after, s2));
    t.not(shared, before, 'the input changes the assignments');
    t.is(shared, JSON.stringify(eds(after, fresh)), 'the memo serves what a fresh generation gives');
  });
}

test('unchanged inputs give the same assignment objects across snapshots; a moved replica renews only its service’s', (t) => {
  const s1 = mesh('').build('v1');
  const s2 = mesh('').build('v2', s1);
  const a = new Map(eds(sidecar, s1).map((r) => [r.name, r.resource]));
  const b = new Map(eds(sidecar, s2).map((r) => [r.name, r.resource]));
  t.true(a.size > 1);
  for (const [name, resource] of b) t.is<unknown, unknown>(resource, a.get(name), `${name}: the same object`);
  const s3 = mesh('', { moved: true }).build('v3', s2);
  for (const r of eds(sidecar, s3)) {
    if (r.name.endsWith('|reviews.default.svc.cluster.local')) t.not<unknown, unknown>(r.resource, a.get(r.name));
    else t.is<unknown, unknown>(r.resource, a.get(r.name), `${r.name}: untouched by the move`);
  }
});
