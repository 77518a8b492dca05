import test from 'ava';
import type { FilterChain, Listener, TcpProxy } from '../../src/xds/resources.ts';
import { validateListener } from '../../src/xds/validate/index.ts';
import { listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * LDS for SNI routing of the app's own TLS: `tls` ports, and tcp ports of hosts with VirtualService
 * `tls` rules, get tls_inspector and one chain per SNI claim, then a default chain. Every listener
 * generated here also passes the sidecar's receiver. Binds nothing.
 */
const A = 'tls-a.default.svc.cluster.local';
const B = 'tls-b.default.svc.cluster.local';
const DB = 'db.default.svc.cluster.local';

function base() {
  return new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('tls-a-v1', 'tls-a', 8443, { protocol: 'tls', labels: { app: 'tls-a', version: 'v1' } })
    .imported('west', '127.0.9.1', 'tls-b-v1', 'tls-b', 8443, { app: 'tls-b' }, 'default', undefined, 'tls');
}

/** Each chain as `server_names → clusters (weights)`; `*` for the default chain. */
function shape(l: Listener | undefined): string[] {
  return (l?.filter_chains ?? []).map((c: FilterChain) => {
    const tc = c.filters[0]?.typed_config;
    const tcp = tc && 'cluster' in tc ? (tc as TcpProxy) : tc && 'weighted_clusters' in tc ? (tc as TcpProxy) : undefined;
    const target = tcp === undefined ? '?' : (tcp.cluster ?? (tcp.weighted_clusters?.clusters ?? []).map((w) => `${w.name}=${w.weight}`).join(','));
    return `${(c.filter_chain_match?.server_names ?? ['*']).join(',')} → ${target}`;
  });
}

function received(l: Listener | undefined) {
  const r = validateListener(JSON.parse(JSON.stringify(l ?? {})));
  if (!r.ok) throw new Error(r.errors.join('\n'));
  return r.value;
}

test('two tls services on one port, no VirtualService: tls_inspector, one chain per hostname, default to the first host', (t) => {
  const l = listenersOf(proxyNode('sidecar'), base().build()).get('0.0.0.0_8443');
  t.deepEqual(l?.listener_filters?.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
  t.deepEqual(shape(l), [`${A} → outbound|8443||${A}`, `${B} → outbound|8443||${B}`, `* → outbound|8443||${A}`]);
  t.is(l?.address?.socket_address.address, '127.0.1.1');
  const v = received(l);
  t.true(v.tlsInspector);
  t.deepEqual(v.filterChains.map((c) => c.serverNames), [[A], [B], []]);
});

test('tls rules: one chain per applying match block, weighted clusters, earlier claims win, the own-hostname chain yields to a rule', (t) => {
  const snap = base()
    .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tls-a, namespace: default}
spec:
  host: tls-a
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-a, namespace: default}
spec:
  hosts: [tls-a, a.example.com]
  tls:
  - match:
    - {sniHosts: [a.example.com], sourceLabels: {app: other}}
    - {sniHosts: [tls-a.default.svc.cluster.local, a.example.com, a.example.com], port: 8443}
    route:
    - {destination: {host: tls-a, subset: v1}, weight: 70}
    - {destination: {host: tls-b}, weight: 30}
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: tls-b}}]
  - match: [{sniHosts: [tls-a], port: 9999}]
    route: [{destination: {host: tls-b}}]`)
    .build();
  const l = listenersOf(proxyNode('sidecar', { labels: { app: 'productpage' } }), snap).get('0.0.0.0_8443');
  t.deepEqual(shape(l), [
    `${A},a.example.com → outbound|8443|v1|${A}=70,outbound|8443||${B}=30`,
    `${B} → outbound|8443||${B}`,
    `* → outbound|8443||${A}`,
  ]);
  const other = listenersOf(proxyNode('sidecar', { labels: { app: 'other' } }), snap).get('0.0.0.0_8443');
  t.deepEqual(shape(other).slice(0, 2), [`a.example.com → outbound|8443|v1|${A}=70,outbound|8443||${B}=30`, `${A} → outbound|8443|v1|${A}=70,outbound|8443||${B}=30`]);
  t.deepEqual(received(other).filterChains.map((c) => c.serverNames), [['a.example.com'], [A], [B], []]);
});

test('a tcp port without tls rules keeps one plain chain; with tls rules on its host it gets tls_inspector and SNI chains', (t) => {
  const plain = new SnapshotBuilder().workload('productpage-v1', 'productpage', 9080).workload('db-1', 'db', 9000, { protocol: 'tcp' }).build();
  const l = listenersOf(proxyNode('sidecar'), plain).get('0.0.0.0_9000');
  t.is(l?.listener_filters, undefined);
  t.deepEqual(shape(l), [`* → outbound|9000||${DB}`]);
  const ruled = new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('db-1', 'db', 9000, { protocol: 'tcp' })
    .workload('tls-a-v1', 'tls-a', 9000, { protocol: 'tcp' })
    .yaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db]
  tls:
  - match: [{sniHosts: [db]}]
    route: [{destination: {host: tls-a}}]`)
    .build();
  const r = listenersOf(proxyNode('sidecar'), ruled).get('0.0.0.0_9000');
  t.deepEqual(r?.listener_filters?.map((f) => f.name), ['envoy.filters.listener.tls_inspector']);
  t.deepEqual(shape(r), [`db → outbound|9000||${A}`, `* → outbound|9000||${DB}`]);
  t.true(received(r).tlsInspector);
});

test('a tls rule whose blocks apply to no port of this proxy leaves the own-hostname chains', (t) => {
  const snap = base()
    .yaml(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-a, namespace: default}
spec:
  hosts: [tls-a]
  tls:
  - match: [{sniHosts: [tls-a], sourceNamespace: elsewhere}]
    route: [{destination: {host: tls-b}}]`)
    .build();
  t.deepEqual(shape(listenersOf(proxyNode('sidecar'), snap).get('0.0.0.0_8443')), [`${A} → outbound|8443||${A}`, `${B} → outbound|8443||${B}`, `* → outbound|8443||${A}`]);
});
