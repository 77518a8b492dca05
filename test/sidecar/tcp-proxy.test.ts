import net from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { pilotConfig } from '../support/pilot-config.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { createTestCa, type TestCa } from './support-certs.ts';

/**
 * Raw TCP through a sidecar pair, fed by Pilot's own generators through the proxies' validators:
 * app → productpage's sidecar `0.0.0.0_9000` (127.64.1.1:9000) → mesh mTLS (ALPN istio) →
 * db's sidecar 15006 (127.64.1.2) → the db app (a byte echo on 127.64.1.2:9000). Also a TCP
 * service whose only endpoint is down (UF) and one behind `maxConnections: 1` (UO).
 * Block 127.64.1.0/24: .1 client sidecar, .2 db, .3 nothing listens (down), .4 limited, .5 an
 * external TCP server behind a MESH_EXTERNAL ServiceEntry (plaintext from the sidecar), .6 the
 * `plain` workload (sidecar and echo app), which callers reach in plaintext (tls DISABLE, PERMISSIVE).
 */
const CLIENT = '127.64.1.1';
const DB = '127.64.1.2';
const DOWN = '127.64.1.3';
const LIMITED = '127.64.1.4';
const EXTERNAL = '127.64.1.5';
const PLAIN = '127.64.1.6';
const logger = pino({ level: process.env['TCP_TEST_LOG'] ?? 'silent' });

let ca: TestCa;
const planes: DataPlane[] = [];
const apps: net.Server[] = [];
let client: DataPlane;
let db: DataPlane;
let plain: DataPlane;

function echoServer(host: string, port: number): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true }, (c) => {
    c.on('error', () => c.destroy());
    c.pipe(c);
  });
  apps.push(s);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host, () => resolve(s));
  });
}

/** Sends `payload`, half-closes, and collects everything until the proxy closes the connection. */
function roundTrip(port: number, payload: Buffer): Promise<{ echoed: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let ended = false;
    const c = net.connect({ host: CLIENT, port, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('end', () => {
      ended = true;
    });
    c.on('error', reject);
    c.on('close', () => resolve({ echoed: Buffer.concat(chunks), ended }));
  });
}

function snapshot() {
  return new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080, { address: CLIENT, serviceAccount: 'productpage' })
    .workload('db-1', 'db', 9000, { address: DB, protocol: 'tcp', serviceAccount: 'db' })
    .workload('down-1', 'down', 9001, { address: DOWN, protocol: 'tcp', sidecar: false })
    .workload('limited-1', 'limited', 9002, { address: LIMITED, protocol: 'tcp', sidecar: false })
    .workload('plain-1', 'plain', 9006, { address: PLAIN, protocol: 'tcp', serviceAccount: 'plain' })
    .yaml(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: limited, namespace: default}
spec:
  host: limited.default.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 1}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: plain, namespace: default}
spec:
  host: plain.default.svc.cluster.local
  trafficPolicy: {tls: {mode: DISABLE}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: pg, namespace: default}
spec:
  hosts: [pg.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 9005, name: tcp-pg, protocol: TCP}]
  resolution: STATIC
  endpoints: [{address: ${EXTERNAL}}]
`)
    .build();
}

async function plane(name: string, sa: string, address: string): Promise<DataPlane> {
  const p = await createDataPlane({
    workload: { name, namespace: 'default', serviceAccount: sa, cluster: 'east', address, labels: { app: sa } },
    certificates: new StaticCertificateSource(ca.issue('default', sa)),
    logger,
  });
  planes.push(p);
  return p;
}

async function metricLines(p: DataPlane, name: string): Promise<string[]> {
  return (await p.telemetry.metrics()).split('\n').filter((l) => l.startsWith(`${name}{`));
}

test.before(async () => {
  ca = await createTestCa('east');
  await echoServer(DB, 9000);
  await echoServer(LIMITED, 9002);
  await echoServer(EXTERNAL, 9005);
  await echoServer(PLAIN, 9006);
  client = await plane('productpage-v1', 'productpage', CLIENT);
  db = await plane('db-1', 'db', DB);
  plain = await plane('plain-1', 'plain', PLAIN);
  const snap = snapshot();
  const c = await client.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'productpage-v1', ip: CLIENT }), snap));
  if (!c.ok) throw c.errors[0];
  const s = await db.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'db-1', serviceAccount: 'db', ip: DB }), snap));
  if (!s.ok) throw s.errors[0];
  const p = await plain.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'plain-1', serviceAccount: 'plain', ip: PLAIN }), snap));
  if (!p.ok) throw p.errors[0];
});

test.after.always(async () => {
  await Promise.all(planes.map((p) => p.close()));
  await Promise.all(apps.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await ca?.dispose();
});

test.serial('the client sidecar binds one tcp listener per reachable tcp port, none for its own http port', (t) => {
  t.deepEqual(client.listenerAddress('0.0.0.0_9000'), { host: CLIENT, port: 9000 });
  t.deepEqual(client.listenerAddress('0.0.0.0_9001'), { host: CLIENT, port: 9001 });
  t.is(client.listenerAddress('0.0.0.0_9080'), undefined);
  t.is(db.listenerAddress('0.0.0.0_9000'), undefined, "db's own port: no outbound listener on it");
});

test.serial('bytes echo both ways across the mTLS hop, with half-close; both sidecars count them with the peer identities', async (t) => {
  const payload = Buffer.alloc(200_000, 'tcp-bytes.');
  const { echoed, ended } = await roundTrip(9000, payload);
  t.true(ended, 'the echo half-closed back after our end');
  t.is(echoed.length, payload.length);
  t.true(echoed.equals(payload));

  const source = await metricLines(client, 'istio_tcp_received_bytes_total');
  const sourceLine = source.find((l) => l.includes('destination_service="db.default.svc.cluster.local"'));
  t.truthy(sourceLine, source.join('\n'));
  t.regex(sourceLine ?? '', /reporter="source"/);
  t.regex(sourceLine ?? '', /destination_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/db"/);
  t.regex(sourceLine ?? '', /connection_security_policy="mutual_tls"/);
  t.regex(sourceLine ?? '', / 200000$/);

  const dest = await metricLines(db, 'istio_tcp_sent_bytes_total');
  const destLine = dest.find((l) => l.includes('reporter="destination"'));
  t.truthy(destLine, dest.join('\n'));
  t.regex(destLine ?? '', /source_principal="spiffe:\/\/cluster.local\/ns\/default\/sa\/productpage"/);
  t.regex(destLine ?? '', /destination_workload="db-1"/);
  // The caller's workload and cluster came in-band (meshfed-peer-exchange), not from its certificate.
  t.regex(destLine ?? '', /source_workload="productpage-v1"/);
  t.regex(destLine ?? '', /source_cluster="east"/);
  t.regex(destLine ?? '', /request_protocol="tcp"/);
  t.regex(destLine ?? '', / 200000$/);
  const opened = await metricLines(db, 'istio_tcp_connections_opened_total');
  const closed = await metricLines(db, 'istio_tcp_connections_closed_total');
  t.is(opened.length, 1);
  t.regex(opened[0] ?? '', / 1$/);
  t.regex(closed[0] ?? '', / 1$/);
});

test.serial('an endpoint that refuses the connection: the client is closed, flag UF', async (t) => {
  const { echoed } = await roundTrip(9001, Buffer.from('hello'));
  t.is(echoed.length, 0);
  const closed = await metricLines(client, 'istio_tcp_connections_closed_total');
  t.true(
    closed.some((l) => l.includes('destination_service="down.default.svc.cluster.local"') && l.includes('response_flags="UF"')),
    closed.join('\n'),
  );
});

test.serial('connectionPool.tcp.maxConnections 1: a second connection while one is open is refused, flag UO', async (t) => {
  const held = net.connect({ host: CLIENT, port: 9002 });
  await new Promise<void>((resolve, reject) => {
    held.once('error', reject);
    held.write('ping');
    held.once('data', () => resolve());
  });
  const { echoed } = await roundTrip(9002, Buffer.from('second'));
  t.is(echoed.length, 0, 'refused: nothing echoed');
  held.destroy();
  const closed = await metricLines(client, 'istio_tcp_connections_closed_total');
  t.true(
    closed.some((l) => l.includes('destination_service="limited.default.svc.cluster.local"') && l.includes('response_flags="UO"')),
    closed.join('\n'),
  );
  t.is(client.clusterStats().find((c) => c.name === 'outbound|9002||limited.default.svc.cluster.local')?.overflows.max_connections, 1);
});

test.serial('a MESH_EXTERNAL ServiceEntry TCP port: plaintext from the sidecar to the external endpoint, reported without mTLS', async (t) => {
  const payload = Buffer.from('external bytes');
  const { echoed } = await roundTrip(9005, payload);
  t.true(echoed.equals(payload));
  const closed = await metricLines(client, 'istio_tcp_connections_closed_total');
  const line = closed.find((l) => l.includes('destination_service="pg.example.com"'));
  t.truthy(line, closed.join('\n'));
  t.regex(line ?? '', /connection_security_policy="none"/);
  t.regex(line ?? '', /response_flags="-"/);
});

/** Sends `payload` to host:port directly (no sidecar of ours in front), half-closes, collects the echo. */
function directRoundTrip(host: string, port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ host, port, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

test.serial('PERMISSIVE raw TCP: tls DISABLE reaches the app through its sidecar in plaintext, and so does a caller outside the mesh; both counted with connection_security_policy none', async (t) => {
  const payload = Buffer.alloc(50_000, 'plain-tcp.');
  const { echoed, ended } = await roundTrip(9006, payload);
  t.true(ended);
  t.true(echoed.equals(payload), `echoed ${echoed.length} of ${payload.length} bytes`);
  const source = (await metricLines(client, 'istio_tcp_connections_closed_total')).find((l) => l.includes('destination_service="plain.default.svc.cluster.local"'));
  t.truthy(source);
  t.notRegex(source ?? '', /connection_security_policy="mutual_tls"/);

  // The destination sidecar saw it: the bytes went through its inbound listener, not around it.
  const opened = (await metricLines(plain, 'istio_tcp_connections_opened_total')).filter((l) => l.includes('reporter="destination"'));
  t.is(opened.length, 1, opened.join('\n'));
  t.regex(opened[0] ?? '', /connection_security_policy="none"/);
  t.regex(opened[0] ?? '', /source_principal="unknown"/);
  t.regex(opened[0] ?? '', /destination_workload="plain-1"/);
  t.regex(opened[0] ?? '', /destination_service="plain.default.svc.cluster.local"/);
  t.regex(opened[0] ?? '', / 1$/);
  const received = (await metricLines(plain, 'istio_tcp_received_bytes_total')).find((l) => l.includes('reporter="destination"'));
  t.regex(received ?? '', / 50000$/);

  // A plaintext caller outside the mesh, straight to the inbound port.
  const direct = await directRoundTrip(PLAIN, 15006, Buffer.from('from outside the mesh'));
  t.is(direct.toString(), 'from outside the mesh');
  const after = (await metricLines(plain, 'istio_tcp_connections_opened_total')).find((l) => l.includes('reporter="destination"'));
  t.regex(after ?? '', / 2$/);
  // mTLS callers still reach db as before (its chain is tls-only), counted with mutual_tls.
  const dbOpened = await metricLines(db, 'istio_tcp_connections_opened_total');
  t.false(dbOpened.some((l) => l.includes('connection_security_policy="none"')));
});
