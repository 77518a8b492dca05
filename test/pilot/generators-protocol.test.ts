import test from 'ava';
import { listenersOf, routesOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * The service port's protocol in the model and in what Pilot generates: HTTP-family ports get
 * virtual hosts (sidecar) and api listeners (proxyless); tcp and tls ports get neither. Binds nothing.
 */
const DB = 'db.default.svc.cluster.local';
const WEB = 'web.default.svc.cluster.local';

function snapshot() {
  return new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('db-1', 'db', 9000, { protocol: 'tcp' })
    .workload('web-1', 'web', 8080, { protocol: 'http2' })
    .imported('west', '127.0.9.1', 'db-2', 'db', 9000, {}, 'default', undefined, 'tcp')
    .imported('west', '127.0.9.1', 'vault-1', 'vault', 8200, {}, 'default', undefined, 'tls')
    .imported('west', '127.0.9.1', 'old-1', 'old', 7000)
    .build();
}

test('model: each port keeps the protocol its workloads or its importer declared; older peers default to http', (t) => {
  const snap = snapshot();
  const protocols = Object.fromEntries([...snap.services.values()].map((s) => [s.name, s.ports.map((p) => `${p.protocol}:${p.port}`)]));
  t.deepEqual(protocols, { productpage: ['http:9080'], db: ['tcp:9000'], web: ['http2:8080'], vault: ['tls:8200'], old: ['http:7000'] });
});

test('RDS: sidecar virtual hosts only for HTTP-family ports', (t) => {
  const routes = routesOf(proxyNode('sidecar'), snapshot());
  const names = [...routes.values()].flatMap((r) => r.virtual_hosts.map((v) => v.name)).sort();
  t.true(names.includes(`${WEB}:8080`));
  t.false(names.includes(`${DB}:9000`));
  t.false(names.some((n) => n.startsWith('vault.')));
});

test('LDS: proxyless api listeners only for HTTP-family ports', (t) => {
  const listeners = [...listenersOf(proxyNode('proxyless'), snapshot()).keys()];
  t.true(listeners.includes(`${WEB}:8080`));
  t.false(listeners.some((n) => n.startsWith('db.') || n.startsWith('vault.')));
});

test('LDS: a tcp port gets 0.0.0.0_<port> on the proxy address; a VirtualService tcp rule becomes weighted_clusters, per proxy by sourceLabels', (t) => {
  const snap = new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('db-1', 'db', 9000, { protocol: 'tcp', labels: { app: 'db', version: 'v1' } })
    .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: default}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: default}
spec:
  hosts: [db]
  tcp:
  - match: [{sourceLabels: {app: productpage}}]
    route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
  - route: [{destination: {host: db, subset: v2}}]
`)
    .build();
  const forProxy = (labels: Record<string, string>) => {
    const l = listenersOf(proxyNode('sidecar', { labels }), snap).get('0.0.0.0_9000');
    return l?.filter_chains?.[0]?.filters[0]?.typed_config;
  };
  const pp = listenersOf(proxyNode('sidecar', { labels: { app: 'productpage' } }), snap).get('0.0.0.0_9000');
  t.deepEqual(pp?.address, { socket_address: { address: '127.0.1.1', port_value: 9000 } });
  t.like(forProxy({ app: 'productpage' }), {
    stat_prefix: `outbound|9000||${DB}`,
    weighted_clusters: { clusters: [{ name: `outbound|9000|v1|${DB}`, weight: 80 }, { name: `outbound|9000|v2|${DB}`, weight: 20 }] },
    idle_timeout: { seconds: '3600' },
  });
  t.like(forProxy({ app: 'other' }), { cluster: `outbound|9000|v2|${DB}` });
  const inbound = listenersOf(proxyNode('sidecar', { workload: 'db-1', ip: '127.0.1.2' }), snap).get('virtualInbound');
  t.like(inbound?.filter_chains?.[0], {
    filter_chain_match: { destination_port: { value: 9000 }, application_protocols: ['meshfed-peer-exchange', 'istio-peer-exchange', 'istio'] },
    filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { cluster: 'inbound|9000||' } }],
  });
});
