import tls from 'node:tls';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { selfSigned } from '../gateway/tls-fixtures.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { pilotConfig } from '../support/pilot-config.ts';
import { createTestCa, type TestCa } from './support-certs.ts';

/**
 * SNI routing of the app's own TLS through one sidecar fed by Pilot's generators through its
 * validators: the app connects to `0.0.0.0_8443` (127.70.1.1:8443), the sidecar peeks the
 * ClientHello, picks the chain by SNI and passes the bytes on to one of two TLS servers with
 * their own certificates (no sidecar in front of them: the sidecar dials their port in plaintext,
 * so the client's TLS reaches them untouched). Block 127.70.1.0/24: .1 client sidecar, .2 tls-a
 * (CN tls-a-app), .3 tls-b (CN tls-b-app).
 */
const CLIENT = '127.70.1.1';
const A_HOST = '127.70.1.2';
const B_HOST = '127.70.1.3';
const A = 'tls-a.default.svc.cluster.local';
const B = 'tls-b.default.svc.cluster.local';
const logger = pino({ level: 'silent' });

let ca: TestCa;
let client: DataPlane;
const apps: tls.Server[] = [];

function tlsEcho(host: string, cn: string): Promise<void> {
  const { certPem, keyPem } = selfSigned(cn);
  const s = tls.createServer({ cert: certPem, key: keyPem }, (c) => {
    c.on('error', () => c.destroy());
    c.on('data', (d: Buffer) => c.end(Buffer.concat([Buffer.from(`${cn}:`), d])));
  });
  s.on('tlsClientError', () => {});
  apps.push(s);
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen(8443, host, () => resolve());
  });
}

/** TLS through the sidecar with this SNI (none: no server_name extension); the served CN and the echo. */
function call(servername: string | undefined): Promise<{ cn: string; reply: string }> {
  return new Promise((resolve, reject) => {
    const c = tls.connect({ host: CLIENT, port: 8443, ...(servername !== undefined ? { servername } : {}), rejectUnauthorized: false });
    const chunks: Buffer[] = [];
    let cn = '';
    c.once('secureConnect', () => {
      cn = String(c.getPeerCertificate().subject?.CN ?? '');
      c.write('hi');
    });
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve({ cn, reply: Buffer.concat(chunks).toString() }));
  });
}

test.before(async () => {
  ca = await createTestCa('east');
  await tlsEcho(A_HOST, 'tls-a-app');
  await tlsEcho(B_HOST, 'tls-b-app');
  client = await createDataPlane({
    workload: { name: 'productpage-v1', namespace: 'default', serviceAccount: 'productpage', cluster: 'east', address: CLIENT, labels: { app: 'productpage' } },
    certificates: new StaticCertificateSource(ca.issue('default', 'productpage')),
    logger,
  });
  const snap = new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080, { address: CLIENT, serviceAccount: 'productpage' })
    .workload('tls-a-1', 'tls-a', 8443, { address: A_HOST, protocol: 'tls', sidecar: false })
    .workload('tls-b-1', 'tls-b', 8443, { address: B_HOST, protocol: 'tls', sidecar: false })
    .build();
  const c = await client.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'productpage-v1', ip: CLIENT }), snap));
  if (!c.ok) throw c.errors[0];
});

test.after.always(async () => {
  await client?.close();
  await Promise.all(apps.map((s) => new Promise<void>((r) => s.close(() => r()))));
  await ca?.dispose();
});

const rows: [sni: string | undefined, cn: string][] = [
  [A, 'tls-a-app'],
  [B, 'tls-b-app'],
  ['TLS-B.default.svc.cluster.local', 'tls-b-app'],
  [undefined, 'tls-a-app'],
  ['unknown.example.com', 'tls-a-app'],
];

for (const [sni, cn] of rows) {
  test.serial(`SNI ${sni ?? '(none)'} → ${cn}, whose own certificate the client sees`, async (t) => {
    t.deepEqual(await call(sni), { cn, reply: `${cn}:hi` });
  });
}

test.serial('the source metrics name the SNI-chosen service', async (t) => {
  const lines = (await client.telemetry.metrics()).split('\n').filter((l) => l.startsWith('istio_tcp_connections_opened_total{'));
  const opened = (host: string) => lines.filter((l) => l.includes(`destination_service="${host}"`)).map((l) => Number(l.split(' ').pop()));
  t.deepEqual(opened(B), [2], lines.join('\n'));
  t.deepEqual(opened(A), [3], lines.join('\n'));
});
