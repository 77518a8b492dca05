import test from 'ava';
import type { SidecarEgressHost } from '../../src/pilot/config/index.ts';
import { generate, generationKey } from '../../src/pilot/generators/index.ts';
import { diffSnapshots, type Snapshot } from '../../src/pilot/model/index.ts';
import { egressHostMatches, sidecarFor } from '../../src/pilot/model/sidecar-scope.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import type { RouteConfiguration } from '../../src/xds/resources.ts';
import { PUSH_ORDER, TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/** Istio's Sidecar scope in Pilot: host matching, which Sidecar applies, and what generators then emit. */

const host = (text: string): SidecarEgressHost => {
  const i = text.indexOf('/');
  return { namespace: text.slice(0, i), dnsName: text.slice(i + 1) };
};

const matches: [string, string, string, string, boolean][] = [
  // entry, proxy namespace, hostname, host namespace, expected
  ['./*', 'shop', 'reviews.shop.svc.cluster.local', 'shop', true],
  ['./*', 'shop', 'reviews.prod.svc.cluster.local', 'prod', false],
  ['prod/*', 'shop', 'reviews.prod.svc.cluster.local', 'prod', true],
  ['*/*', 'shop', 'anything.example', 'egress', true],
  ['~/*', 'shop', 'reviews.shop.svc.cluster.local', 'shop', false],
  ['./reviews', 'shop', 'reviews.shop.svc.cluster.local', 'shop', true],
  ['./reviews', 'shop', 'reviews.prod.svc.cluster.local', 'prod', false],
  ['*/reviews', 'shop', 'reviews.prod.svc.cluster.local', 'prod', true],
  ['*/reviews', 'shop', 'reviews.example', 'prod', false],
  ['prod/reviews.prod.svc.cluster.local', 'shop', 'reviews.prod.svc.cluster.local', 'prod', true],
  ['shop/reviews.prod.svc.cluster.local', 'shop', 'reviews.prod.svc.cluster.local', 'prod', false],
  ['*/httpbin.org', 'shop', 'httpbin.org', 'egress', true],
  ['*/httpbin.org', 'shop', 'www.httpbin.org', 'egress', false],
  ['egress/*.example.com', 'shop', 'api.example.com', 'egress', true],
  ['egress/*.example.com', 'shop', 'a.b.example.com', 'egress', true],
  ['egress/*.example.com', 'shop', 'example.com', 'egress', false],
  ['egress/*.example.com', 'shop', 'api.example.com.evil', 'egress', false],
];
for (const [entry, proxyNs, hostname, hostNs, expected] of matches) {
  test(`egress host ${entry} ${expected ? 'imports' : 'does not import'} ${hostname} (${hostNs}) for a proxy in ${proxyNs}`, (t) => {
    t.is(egressHostMatches(host(entry), proxyNs, hostname, hostNs, 'cluster.local'), expected);
  });
}

const sidecar = (ns: string, name: string, body: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${body}\n---\n`;

function meshBuilder(): SnapshotBuilder {
  return new SnapshotBuilder({ cluster: 'east' })
    .workload('productpage-v1', 'productpage', 9080, { labels: { app: 'productpage' } })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .workload('ratings-v1', 'ratings', 9080, { labels: { app: 'ratings' } })
    .workload('details-v1', 'details', 9080, { namespace: 'other', labels: { app: 'details' } })
    .workload('istiod-probe', 'probe', 15014, { namespace: 'istio-system', labels: { app: 'probe' } })
    .imported('west', '10.1.0.1', 'secret-v1', 'secret', 9080, {}, 'vault')
    .yaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin, namespace: egress}
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 8080, name: http-alt, protocol: HTTP}
  resolution: STATIC
  endpoints: [{address: 127.67.0.9}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: 90
    - destination: {host: details.other.svc.cluster.local}
      weight: 10
`);
}

const ROOT_DEFAULT = sidecar('istio-system', 'default', '  egress:\n  - hosts: ["./*", "istio-system/*"]');
const productpage = proxyNode('sidecar', { labels: { app: 'productpage' } });
const ratings = proxyNode('sidecar', { workload: 'ratings-v1', ip: '127.0.1.3', labels: { app: 'ratings' } });
const details = proxyNode('sidecar', { workload: 'details-v1', ip: '127.0.1.4', namespace: 'other', labels: { app: 'details' } });

function outboundHosts(proxy: ProxyNode, snap: Snapshot, typeUrl: XdsTypeUrl): string[] {
  const names = generate(proxy, typeUrl, snap).map((r) => r.name).filter((n) => n.startsWith('outbound|'));
  return [...new Set(names.map((n) => n.split('|')[3] ?? ''))].sort();
}

function virtualHosts(proxy: ProxyNode, snap: Snapshot): string[] {
  const rc = generate(proxy, TYPE_URL.route, snap)[0]?.resource as RouteConfiguration | undefined;
  return (rc?.virtual_hosts ?? []).map((v) => v.name);
}

test('no Sidecar: a proxy sees every service (the mesh as before)', (t) => {
  const snap = meshBuilder().build();
  t.deepEqual(outboundHosts(productpage, snap, TYPE_URL.cluster), [
    'details.other.svc.cluster.local',
    'httpbin.org',
    'probe.istio-system.svc.cluster.local',
    'productpage.default.svc.cluster.local',
    'ratings.default.svc.cluster.local',
    'reviews.default.svc.cluster.local',
    'secret.vault.svc.cluster.local',
  ]);
});

test('the root-namespace default ./* and istio-system/*: CDS, EDS and RDS hold only the own namespace and istio-system (plus VirtualService destinations)', (t) => {
  const snap = meshBuilder().yaml(ROOT_DEFAULT).build();
  const expected = [
    'details.other.svc.cluster.local', // a destination of the reviews VirtualService, imported with it
    'probe.istio-system.svc.cluster.local',
    'productpage.default.svc.cluster.local',
    'ratings.default.svc.cluster.local',
    'reviews.default.svc.cluster.local',
  ];
  t.deepEqual(outboundHosts(productpage, snap, TYPE_URL.cluster), expected);
  t.deepEqual(outboundHosts(productpage, snap, TYPE_URL.endpoint), expected);
  t.deepEqual(virtualHosts(productpage, snap), [
    'details.other.svc.cluster.local:9080',
    'probe.istio-system.svc.cluster.local:15014',
    'productpage.default.svc.cluster.local:9080',
    'ratings.default.svc.cluster.local:9080',
    'reviews.default.svc.cluster.local:9080',
  ]);
  // "." in the root default is each proxy's own namespace: a proxy in other sees other's services.
  t.deepEqual(outboundHosts(details, snap, TYPE_URL.cluster), ['details.other.svc.cluster.local', 'probe.istio-system.svc.cluster.local']);
  // The proxy's own inbound clusters stay whatever the scope.
  t.true(generate(productpage, TYPE_URL.cluster, snap).some((r) => r.name === 'inbound|9080||'));
});

test('precedence: a selected Sidecar beats the namespace default, which beats the root default; ties go to the first by name', (t) => {
  const snap = meshBuilder()
    .yaml(ROOT_DEFAULT)
    .yaml(sidecar('default', 'ns-default', '  egress:\n  - hosts: ["./productpage"]'))
    .yaml(sidecar('default', 'b-ratings', '  workloadSelector: {labels: {app: ratings}}\n  egress:\n  - hosts: ["egress/httpbin.org"]'))
    .yaml(sidecar('default', 'a-ratings', '  workloadSelector: {labels: {app: ratings}}\n  egress:\n  - hosts: ["./reviews"]'))
    .yaml(sidecar('default', 'z-other', '  workloadSelector: {labels: {app: nobody}}\n  egress:\n  - hosts: ["~/*"]'))
    .yaml(sidecar('istio-system', 'selected-root', '  workloadSelector: {labels: {app: details}}\n  egress:\n  - hosts: ["~/*"]'))
    .build();
  const pick = (p: ProxyNode): string | undefined => {
    const sc = sidecarFor(snap, p);
    return sc && `${sc.metadata.namespace}/${sc.metadata.name}`;
  };
  t.is(pick(ratings), 'default/a-ratings');
  t.is(pick(productpage), 'default/ns-default');
  t.is(pick(details), 'istio-system/default', 'a selector in the root namespace selects only root-namespace workloads');
  t.is(pick(proxyNode('router', { ip: '127.0.2.1' })), undefined, 'Sidecars never apply to gateways');
  t.is(pick(proxyNode('proxyless', { workload: 'client', labels: { app: 'ratings' } })), 'default/a-ratings');
  t.deepEqual(outboundHosts(ratings, snap, TYPE_URL.cluster), ['details.other.svc.cluster.local', 'reviews.default.svc.cluster.local']);
  t.deepEqual(outboundHosts(productpage, snap, TYPE_URL.cluster), ['productpage.default.svc.cluster.local']);
});

test('a port-scoped egress listener imports its hosts on that port only; proxyless LDS follows the scope too', (t) => {
  const snap = meshBuilder()
    .yaml(sidecar('default', 'default', '  egress:\n  - port: {number: 8080, protocol: HTTP, name: http-alt}\n    hosts: ["egress/httpbin.org"]\n  - hosts: ["./ratings"]'))
    .build();
  const clusters = generate(productpage, TYPE_URL.cluster, snap).map((r) => r.name).filter((n) => n.startsWith('outbound|'));
  t.deepEqual(clusters, ['outbound|8080||httpbin.org', 'outbound|9080||ratings.default.svc.cluster.local']);
  t.deepEqual(virtualHosts(productpage, snap), ['httpbin.org:8080', 'ratings.default.svc.cluster.local:9080']);
  const proxyless = proxyNode('proxyless', { workload: 'client', ip: '127.0.1.60' });
  t.deepEqual(generate(proxyless, TYPE_URL.listener, snap).map((r) => r.name), [
    'httpbin.org', // one port visible: the bare name too, as for any single-port service
    'httpbin.org:8080',
    'ratings.default.svc.cluster.local',
    'ratings.default.svc.cluster.local:9080',
  ]);
});

test('REGISTRY_ONLY adds Istio’s block_all virtual host (domains *, direct response 502) after the imported ones', (t) => {
  const snap = meshBuilder().yaml(sidecar('default', 'default', '  egress:\n  - hosts: ["./ratings"]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}')).build();
  const rc = generate(productpage, TYPE_URL.route, snap)[0]?.resource as RouteConfiguration;
  t.deepEqual(rc.virtual_hosts.at(-1), { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] });
  t.deepEqual(virtualHosts(productpage, snap), ['ratings.default.svc.cluster.local:9080', 'block_all']);
  t.false(virtualHosts(details, snap).includes('block_all'), 'other namespaces keep the default');
});

test('exportTo still applies inside a Sidecar’s scope: */* does not reveal a host exported elsewhere', (t) => {
  const snap = meshBuilder()
    .yaml(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: egress}
spec:
  hosts: [private.example]
  location: MESH_EXTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.67.0.10}]
  exportTo: ["."]
`)
    .yaml(sidecar('default', 'default', '  egress:\n  - hosts: ["*/*"]'))
    .build();
  t.false(outboundHosts(productpage, snap, TYPE_URL.cluster).includes('private.example'));
  t.true(outboundHosts(productpage, snap, TYPE_URL.cluster).includes('httpbin.org'));
});

const proxies: ProxyNode[] = [
  productpage,
  proxyNode('sidecar', { workload: 'productpage-v1', ip: '127.0.1.70', labels: { app: 'productpage' } }),
  ratings,
  proxyNode('sidecar', { workload: 'ratings-v2', ip: '127.0.1.71', labels: { app: 'ratings' } }),
  proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2', labels: { app: 'reviews', version: 'v1' } }),
  details,
  proxyNode('sidecar', { workload: 'details-v2', ip: '127.0.1.72', namespace: 'other', labels: { app: 'details' } }),
  proxyNode('proxyless', { workload: 'client-a', ip: '127.0.1.60', labels: { app: 'ratings' } }),
  proxyNode('proxyless', { workload: 'client-b', ip: '127.0.1.61', labels: { app: 'x' } }),
  proxyNode('proxyless', { workload: 'client-c', ip: '127.0.1.62', labels: { app: 'ratings' } }),
  proxyNode('router', { ip: '127.0.2.1' }),
];

const scoped = meshBuilder()
  .yaml(ROOT_DEFAULT)
  .yaml(sidecar('default', 'ratings', '  workloadSelector: {labels: {app: ratings}}\n  egress:\n  - hosts: ["./reviews"]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}'))
  .build();

for (const typeUrl of PUSH_ORDER) {
  test(`with Sidecars, proxies with the same generation key get the same ${typeUrl.split('.').at(-1)}`, (t) => {
    const byKey = new Map<string, { proxy: ProxyNode; output: string }[]>();
    for (const proxy of proxies) {
      const key = generationKey(proxy, typeUrl, scoped);
      byKey.set(key, [...(byKey.get(key) ?? []), { proxy, output: JSON.stringify(generate(proxy, typeUrl, scoped)) }]);
    }
    let shared = 0;
    for (const [key, list] of byKey) {
      for (const other of list.slice(1)) t.is<string | undefined, string | undefined>(other.output, list[0]?.output, `key ${key}: ${other.proxy.id} ${other.proxy.workload} differs`);
      if (list.length > 1) shared++;
    }
    t.true(shared > 0, 'some proxies share a key');
  });
}

test('proxies of one namespace and labels under different Sidecars get different keys for CDS, EDS and RDS (their output differs)', (t) => {
  for (const typeUrl of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.route]) {
    const a = proxyNode('sidecar', { workload: 'w', ip: '127.0.1.80', labels: { app: 'ratings' } });
    const b = proxyNode('sidecar', { workload: 'w', ip: '127.0.1.80', labels: { app: 'productpage' } });
    t.not(generationKey(a, typeUrl, scoped), generationKey(b, typeUrl, scoped), typeUrl);
    t.not(JSON.stringify(generate(a, typeUrl, scoped)), JSON.stringify(generate(b, typeUrl, scoped)), typeUrl);
  }
});

test('a Sidecar change is a full push and re-keys exactly the proxies it selects; the others keep key and output', (t) => {
  const before = meshBuilder().yaml(ROOT_DEFAULT).build('v1');
  const after = scoped;
  t.is(diffSnapshots(before, after).scope, 'full');
  t.is(diffSnapshots(after, meshBuilder().yaml(ROOT_DEFAULT).yaml(sidecar('default', 'ratings', '  workloadSelector: {labels: {app: ratings}}\n  egress:\n  - hosts: ["./reviews"]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}')).build('v3')).scope, 'none');
  for (const typeUrl of [TYPE_URL.cluster, TYPE_URL.endpoint, TYPE_URL.route]) {
    t.not(generationKey(ratings, typeUrl, before), generationKey(ratings, typeUrl, after), `ratings re-keyed for ${typeUrl}`);
    t.not(JSON.stringify(generate(ratings, typeUrl, before)), JSON.stringify(generate(ratings, typeUrl, after)));
    for (const p of [productpage, details]) {
      t.is(generationKey(p, typeUrl, before), generationKey(p, typeUrl, after), `${p.workload} keeps its ${typeUrl} key`);
      t.is(JSON.stringify(generate(p, typeUrl, before)), JSON.stringify(generate(p, typeUrl, after)), `${p.workload} keeps its ${typeUrl}`);
    }
  }
});

test('without any Sidecar the generation keys are the ones meshfed had before (no scope suffix)', (t) => {
  const snap = meshBuilder().build();
  t.is(generationKey(productpage, TYPE_URL.cluster, snap), 'sidecar east/default/productpage-v1');
  t.is(generationKey(productpage, TYPE_URL.endpoint, snap), 'sidecar default');
});
