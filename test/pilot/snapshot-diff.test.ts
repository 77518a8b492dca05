import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { diffSnapshots } from '../../src/pilot/model/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { RICH_CONFIG } from './support/fixtures.ts';
import { SnapshotBuilder, proxyNode } from './support/snapshot-builder.ts';

/** The rich fixture's shape, with a hook to change it. */
function mesh(change: (b: SnapshotBuilder) => SnapshotBuilder = (b) => b): SnapshotBuilder {
  const b = new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
    .workload('productpage-v1', 'productpage', 9080)
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('details-v1', 'details', 9080, { sidecar: false })
    .imported('west', '10.1.0.1', 'reviews-v2a', 'reviews', 9080, { version: 'v2' })
    .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080);
  return change(b).yaml(RICH_CONFIG);
}

const VS_RATINGS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings}
spec:
  hosts: [ratings]
  http:
  - route: [{destination: {host: ratings}}]
    timeout: 2s
`;

const rows: { title: string; next: SnapshotBuilder; scope: 'none' | 'endpoints' | 'full'; hostnames?: string[]; workloads?: string[] }[] = [
  { title: 'nothing changed', next: mesh(), scope: 'none' },
  {
    title: 'a new replica of a local service that is not exported',
    next: mesh((b) => b.workload('productpage-v1b', 'productpage', 9080)),
    scope: 'endpoints',
    hostnames: ['productpage.default.svc.cluster.local'],
    workloads: ['east/default/productpage-v1b'],
  },
  {
    title: 'a new replica of an exported service (its endpoint-qualified SNI is a new gateway chain)',
    next: mesh((b) => b.workload('reviews-v1b', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })),
    scope: 'full',
  },
  {
    title: 'an exported replica changes labels (its subset SNIs at the gateway)',
    next: new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
      .workload('productpage-v1', 'productpage', 9080)
      .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2' } })
      .workload('details-v1', 'details', 9080, { sidecar: false })
      .imported('west', '10.1.0.1', 'reviews-v2a', 'reviews', 9080, { version: 'v2' })
      .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080)
      .yaml(RICH_CONFIG),
    scope: 'full',
  },
  {
    title: 'a new imported endpoint of a known service',
    next: mesh((b) => b.imported('west', '10.1.0.1', 'ratings-v2', 'ratings', 9080)),
    scope: 'endpoints',
    hostnames: ['ratings.default.svc.cluster.local'],
    workloads: [],
  },
  {
    title: 'an imported endpoint gains its federation id (its gateway now takes endpoint-qualified SNIs)',
    next: new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
      .workload('productpage-v1', 'productpage', 9080)
      .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
      .workload('details-v1', 'details', 9080, { sidecar: false })
      .imported('west', '10.1.0.1', 'reviews-v2a', 'reviews', 9080, { version: 'v2' })
      .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080, {}, 'default', '0123456789abcdef')
      .yaml(RICH_CONFIG),
    scope: 'endpoints',
    hostnames: ['ratings.default.svc.cluster.local'],
    workloads: [],
  },
  { title: 'a new service', next: mesh((b) => b.workload('shop-v1', 'shop', 8080)), scope: 'full' },
  { title: 'a new port of a service', next: mesh((b) => b.workload('reviews-admin', 'reviews', 9090)), scope: 'full' },
  { title: 'a config change', next: mesh((b) => b.yaml(VS_RATINGS)), scope: 'full' },
  {
    title: 'a service gains its first mesh endpoint (mTLS in CDS)',
    next: mesh((b) => b.workload('details-v2', 'details', 9080)),
    scope: 'full',
  },
  { title: 'the gateway moved', next: mesh((b) => b.gateway('127.0.2.9')), scope: 'full' },
];

const prev = mesh().build('v1');

for (const row of rows) {
  test(`snapshot change: ${row.title} → ${row.scope}`, (t) => {
    const next = row.next.build('v2');
    const change = diffSnapshots(prev, next);
    t.is(change.scope, row.scope);
    if (row.hostnames) t.deepEqual([...change.hostnames].sort(), row.hostnames);
    if (row.workloads) t.deepEqual([...change.workloads].sort(), row.workloads);
  });
}

/** Proxies whose own workload no row changes. */
const bystanders: ProxyNode[] = [
  proxyNode('sidecar'),
  proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2' }),
  proxyNode('router', { ip: '127.0.2.1' }),
  proxyNode('proxyless', { workload: 'client', ip: '127.0.1.70' }),
];

for (const row of rows.filter((r) => r.scope === 'endpoints')) {
  test(`an endpoints-only change leaves CDS, LDS and RDS as they were: ${row.title}`, (t) => {
    const next = row.next.build('v2');
    for (const proxy of bystanders) {
      for (const typeUrl of [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route]) {
        t.deepEqual(generate(proxy, typeUrl, next), generate(proxy, typeUrl, prev), `${proxy.type} ${proxy.workload} ${typeUrl}`);
      }
    }
    t.notDeepEqual(generate(bystanders[0]!, TYPE_URL.endpoint, next), generate(bystanders[0]!, TYPE_URL.endpoint, prev), 'EDS did change');
  });
}

test('an endpoint that changes locality (region label) is an endpoints change that EDS shows', (t) => {
  const build = (labels: Record<string, string>, version: string) =>
    new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
      .workload('productpage-v1', 'productpage', 9080)
      .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080, labels)
      .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r2}]}}
    outlierDetection: {consecutive5xxErrors: 1}
`)
      .build(version);
  const before = build({}, 'v1');
  const after = build({ 'topology.kubernetes.io/region': 'r2' }, 'v2');
  const change = diffSnapshots(before, after);
  t.is(change.scope, 'endpoints');
  t.deepEqual([...change.hostnames], ['ratings.default.svc.cluster.local']);
  const proxy = proxyNode('sidecar', { labels: { 'topology.kubernetes.io/region': 'r1' } });
  t.notDeepEqual(generate(proxy, TYPE_URL.endpoint, after), generate(proxy, TYPE_URL.endpoint, before));
  for (const typeUrl of [TYPE_URL.cluster, TYPE_URL.listener, TYPE_URL.route]) t.deepEqual(generate(proxy, typeUrl, after), generate(proxy, typeUrl, before));
});
