import test from 'ava';
import { generate, generationKey } from '../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../src/pilot/model/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { PUSH_ORDER, TYPE_URL } from '../../src/xds/type-urls.ts';
import { exportToSnapshot, richSnapshot } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * Proxies that differ in every field a generator might read. Equal generation keys must mean
 * equal output: the push server shares one generated result between them.
 */
const proxies: ProxyNode[] = [
  proxyNode('sidecar'),
  proxyNode('sidecar', { id: 'sidecar~127.0.1.1~productpage-v1.default~default.svc.cluster.local-2', serviceAccount: 'other', labels: { a: 'b' } }),
  proxyNode('sidecar', { ip: '127.0.1.9' }),
  proxyNode('sidecar', { interceptionMode: 'REDIRECT' }),
  proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2' }),
  proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2', labels: { version: 'v1' } }),
  proxyNode('sidecar', { workload: 'nobody', ip: '127.0.1.50' }),
  proxyNode('sidecar', { workload: 'nobody-else', ip: '127.0.1.51', namespace: 'other' }),
  proxyNode('sidecar', { workload: 'nobody-2', ip: '127.0.1.52', namespace: 'other' }),
  proxyNode('sidecar', { workload: 'nobody-3', ip: '127.0.1.53', cluster: 'west' }),
  proxyNode('sidecar', { workload: 'nobody-4', ip: '127.0.1.54', labels: { 'topology.kubernetes.io/region': 'r1', version: 'v2' } }),
  proxyNode('sidecar', { workload: 'nobody-5', ip: '127.0.1.55', labels: { 'topology.kubernetes.io/region': 'r1', version: 'v2' } }),
  proxyNode('router', { ip: '127.0.2.1' }),
  proxyNode('router', { ip: '127.0.2.1', workload: 'gw-2', labels: { x: 'y' } }),
  proxyNode('router', { ip: '127.0.2.2' }),
  proxyNode('proxyless', { ip: '127.0.1.60', workload: 'client-a' }),
  proxyNode('proxyless', { ip: '127.0.1.61', workload: 'client-b', namespace: 'other' }),
];

const snap = richSnapshot();
const snapshots: [string, Snapshot][] = [
  ['', snap],
  [' (exportTo restricts config by namespace)', exportToSnapshot()],
];

/**
 * DestinationRules whose EDS depends on the proxy (failoverPriority on cluster and version;
 * region failover), over endpoints with and without regions.
 */
const localitySnap = new SnapshotBuilder({ cluster: 'east', gatewayAddress: '127.0.2.1' })
  .workload('productpage-v1', 'productpage', 9080)
  .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1', 'topology.kubernetes.io/region': 'r1' } })
  .imported('west', '10.1.0.1', 'reviews-v2a', 'reviews', 9080, { version: 'v2' })
  .imported('west', '10.1.0.1', 'reviews-v3', 'reviews', 9080, { version: 'v3', 'topology.kubernetes.io/region': 'r1' })
  .imported('west', '10.1.0.1', 'ratings-v1', 'ratings', 9080, { 'topology.kubernetes.io/region': 'r2' })
  .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster, version]}}
    outlierDetection: {consecutive5xxErrors: 1}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ratings}
spec:
  host: ratings
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r2}]}}
    outlierDetection: {consecutive5xxErrors: 1}
`)
  .build();

for (const [what, s] of [...snapshots, [' with localityLbSetting', localitySnap] as [string, Snapshot]])
for (const typeUrl of PUSH_ORDER) {
  test(`proxies with the same generation key get the same ${typeUrl.split('.').at(-1)}${what}`, (t) => {
    const byKey = new Map<string, { proxy: ProxyNode; output: string }[]>();
    for (const proxy of proxies) {
      const key = generationKey(proxy, typeUrl, s);
      const list = byKey.get(key) ?? [];
      list.push({ proxy, output: JSON.stringify(generate(proxy, typeUrl, s)) });
      byKey.set(key, list);
    }
    let shared = 0;
    for (const [key, list] of byKey) {
      for (const other of list.slice(1)) t.is<string | undefined, string | undefined>(other.output, list[0]?.output, `key ${key}: ${other.proxy.id} differs`);
      if (list.length > 1) shared++;
    }
    t.true(shared > 0, 'the table has proxies that share a key');
  });
}

test('sidecars of one namespace share EDS without localityLbSetting; with it, sidecars with one namespace, cluster and label set do; one namespace, label set and capture mode share RDS', (t) => {
  const sidecars = proxies.filter((p) => p.type === 'sidecar');
  t.is(new Set(sidecars.map((p) => generationKey(p, TYPE_URL.endpoint, snap))).size, new Set(sidecars.map((p) => p.namespace)).size);
  const edsGroups = new Set(sidecars.map((p) => `${p.namespace} ${p.cluster} ${JSON.stringify(Object.entries(p.labels).sort())}`));
  t.is(new Set(sidecars.map((p) => generationKey(p, TYPE_URL.endpoint, localitySnap))).size, edsGroups.size);
  t.is(new Set(sidecars.map((p) => generationKey(p, TYPE_URL.endpoint))).size, edsGroups.size, 'without a snapshot the key assumes localityLbSetting');
  t.true(edsGroups.size < sidecars.length);
  // Capture proxies get the allow_any virtual host: they never share RDS with the others.
  const groups = new Set(sidecars.map((p) => `${p.namespace} ${JSON.stringify(Object.entries(p.labels).sort())} ${p.interceptionMode ?? ''}`));
  t.is(new Set(sidecars.map((p) => generationKey(p, TYPE_URL.route))).size, groups.size);
});

test('EDS keys differ by cluster and labels when a DestinationRule sets localityLbSetting, since it reads both', (t) => {
  t.not(generationKey(proxyNode('sidecar', { cluster: 'east' }), TYPE_URL.endpoint, localitySnap), generationKey(proxyNode('sidecar', { cluster: 'west' }), TYPE_URL.endpoint, localitySnap));
  t.not(generationKey(proxyNode('sidecar', { labels: { version: 'v1' } }), TYPE_URL.endpoint, localitySnap), generationKey(proxyNode('sidecar', { labels: { version: 'v2' } }), TYPE_URL.endpoint, localitySnap));
  t.is(generationKey(proxyNode('sidecar', { workload: 'a', labels: { version: 'v1' } }), TYPE_URL.endpoint, localitySnap), generationKey(proxyNode('sidecar', { workload: 'b', ip: '127.0.1.77', labels: { version: 'v1' } }), TYPE_URL.endpoint, localitySnap));
  // Proxies that EDS tells apart under localityLbSetting get different output, so one key would be wrong.
  const a = JSON.stringify(generate(proxyNode('sidecar', { cluster: 'east' }), TYPE_URL.endpoint, localitySnap));
  const b = JSON.stringify(generate(proxyNode('sidecar', { cluster: 'west' }), TYPE_URL.endpoint, localitySnap));
  t.not(a, b);
});

test('RDS keys differ by labels, since sourceLabels select match blocks per proxy', (t) => {
  t.not(generationKey(proxyNode('sidecar', { labels: { app: 'a' } }), TYPE_URL.route), generationKey(proxyNode('sidecar', { labels: { app: 'b' } }), TYPE_URL.route));
  t.is(generationKey(proxyNode('sidecar', { labels: { a: '1', b: '2' } }), TYPE_URL.route), generationKey(proxyNode('sidecar', { workload: 'x', labels: { b: '2', a: '1' } }), TYPE_URL.route));
});

/** reviews routes sidecars labelled app=productpage to v2, everyone else to v1. */
const sourceLabelsSnap = new SnapshotBuilder({ cluster: 'east' })
  .workload('productpage-v1', 'productpage', 9080)
  .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
  .yaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{sourceLabels: {app: productpage}}]
    route: [{destination: {host: reviews, port: {number: 9081}}}]
  - route: [{destination: {host: reviews}}]
`)
  .build();

test('RDS keys name labels only when some VirtualService matches on sourceLabels', (t) => {
  const a = proxyNode('sidecar', { workload: 'a', labels: { app: 'productpage' } });
  const b = proxyNode('sidecar', { workload: 'b', ip: '127.0.1.77', labels: { app: 'other' } });
  const rds = (p: ProxyNode, s: Snapshot): string => JSON.stringify(generate(p, TYPE_URL.route, s));
  // With a sourceLabels match, the two proxies get different routes, so their keys must differ.
  t.not(rds(a, sourceLabelsSnap), rds(b, sourceLabelsSnap));
  t.not(generationKey(a, TYPE_URL.route, sourceLabelsSnap), generationKey(b, TYPE_URL.route, sourceLabelsSnap));
  // Without one (richSnapshot has none), labels change nothing and every sidecar of a namespace shares RDS.
  t.is(rds(a, snap), rds(b, snap));
  t.is(generationKey(a, TYPE_URL.route, snap), generationKey(b, TYPE_URL.route, snap));
});

test('sidecars share the outbound Cluster objects of one snapshot', (t) => {
  const [a, b] = [proxyNode('sidecar'), proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2' })];
  const ca = generate(a, TYPE_URL.cluster, snap);
  const cb = generate(b, TYPE_URL.cluster, snap);
  const outbound = ca.filter((r) => r.name.startsWith('outbound|'));
  t.true(outbound.length > 0);
  for (const r of outbound) t.is(cb.find((x) => x.name === r.name)?.resource, r.resource, r.name);
});

test('exportTo makes CDS, EDS and RDS differ between namespaces (so their keys must too)', (t) => {
  const restricted = exportToSnapshot();
  const [def, other] = [proxyNode('sidecar', { workload: 'nobody', ip: '127.0.1.50' }), proxyNode('sidecar', { workload: 'nobody', ip: '127.0.1.50', namespace: 'other' })];
  for (const typeUrl of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.route]) {
    t.not(JSON.stringify(generate(def, typeUrl, restricted)), JSON.stringify(generate(other, typeUrl, restricted)), typeUrl);
    t.not(generationKey(def, typeUrl), generationKey(other, typeUrl), typeUrl);
  }
});

test('a localityLbSetting in a subset’s port-level policy also makes EDS keys name cluster and labels', (t) => {
  const s = new SnapshotBuilder({ cluster: 'east' })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      portLevelSettings:
      - port: {number: 9080}
        loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster]}}
`)
    .build();
  t.not(generationKey(proxyNode('sidecar', { cluster: 'east' }), TYPE_URL.endpoint, s), generationKey(proxyNode('sidecar', { cluster: 'west' }), TYPE_URL.endpoint, s));
  t.is(generationKey(proxyNode('sidecar', { cluster: 'east' }), TYPE_URL.endpoint, snap), generationKey(proxyNode('sidecar', { cluster: 'west' }), TYPE_URL.endpoint, snap));
});
