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
