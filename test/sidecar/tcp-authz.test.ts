import net from 'node:net';
import test from 'ava';
import { pino } from 'pino';
import { createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { pilotConfig } from '../support/pilot-config.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { createTestCa, type TestCa } from './support-certs.ts';

/**
 * AuthorizationPolicy on a TCP port, fed by Pilot's generators through the validators: app →
 * caller's sidecar `0.0.0.0_9000` (127.180.6.1) → mesh mTLS → db's sidecar 15006 (127.180.6.2),
 * whose inbound TCP chain runs Envoy's network RBAC → the db app (a byte echo). A denied
 * connection is closed before any byte reaches the app, and counted in `tcp.rbac.denied`.
 * Istio's rule for HTTP-only fields on a TCP port: an ALLOW rule using them is dropped, a DENY
 * rule is kept without them. Each row re-applies db's config with its policies.
 */
const CLIENT = '127.180.6.1';
const DB = '127.180.6.2';
const logger = pino({ level: 'silent' });

let ca: TestCa;
const planes: DataPlane[] = [];
let app: net.Server;
let client: DataPlane;
let db: DataPlane;
let accepted = 0;

const AP = (name: string, spec: string): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: default}\nspec:\n${spec}\n`;

function snapshot(policies: string) {
  return new SnapshotBuilder()
    .workload('caller-v1', 'caller', 9080, { address: CLIENT, serviceAccount: 'caller' })
    .workload('db-1', 'db', 9000, { address: DB, protocol: 'tcp', serviceAccount: 'db', labels: { app: 'db' } })
    .yaml(policies)
    .build();
}

function roundTrip(payload: Buffer): Promise<{ echoed: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ host: CLIENT, port: 9000, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve({ echoed: Buffer.concat(chunks) }));
  });
}

async function plane(name: string, sa: string, address: string, labels: Record<string, string>): Promise<DataPlane> {
  const p = await createDataPlane({
    workload: { name, namespace: 'default', serviceAccount: sa, cluster: 'east', address, labels },
    certificates: new StaticCertificateSource(ca.issue('default', sa)),
    logger,
  });
  planes.push(p);
  return p;
}

test.before(async () => {
  ca = await createTestCa('east');
  app = net.createServer({ allowHalfOpen: true }, (c) => {
    accepted++;
    c.on('error', () => c.destroy());
    c.pipe(c);
  });
  await new Promise<void>((resolve) => app.listen(9000, DB, resolve));
  client = await plane('caller-v1', 'caller', CLIENT, { app: 'caller' });
  db = await plane('db-1', 'db', DB, { app: 'db' });
  const c = await client.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'caller-v1', serviceAccount: 'caller', ip: CLIENT }), snapshot('')));
  if (!c.ok) throw c.errors[0];
});

test.after.always(async () => {
  await Promise.all(planes.map((p) => p.close()));
  await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
  await ca?.dispose();
});

const ROWS: { name: string; policies: string; allowed: boolean }[] = [
  { name: 'no policy: allowed', policies: '', allowed: true },
  { name: 'ALLOW naming the caller: allowed', policies: AP('allow', '  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}'), allowed: true },
  { name: 'ALLOW naming another principal: denied', policies: AP('allow', '  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/other]}'), allowed: false },
  { name: 'ALLOW on the namespace and port: allowed', policies: AP('allow', '  rules:\n  - from:\n    - source: {namespaces: [default]}\n    to:\n    - operation: {ports: ["9000"]}'), allowed: true },
  {
    name: 'ALLOW with an HTTP-only field (methods) is dropped on a TCP port: denied',
    policies: AP('allow', '  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}\n    to:\n    - operation: {methods: [GET]}'),
    allowed: false,
  },
  { name: 'DENY with only an HTTP-only field (methods) loses it and denies everything', policies: AP('deny', '  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [GET]}'), allowed: false },
  { name: 'DENY on another port: allowed', policies: AP('deny', '  action: DENY\n  rules:\n  - to:\n    - operation: {ports: ["9001"]}'), allowed: true },
  { name: 'DENY with a request.headers condition keeps its L4 part: denied for the caller', policies: AP('deny', '  action: DENY\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}\n    when:\n    - {key: "request.headers[x-a]", values: [b]}'), allowed: false },
  { name: 'AUDIT never denies', policies: AP('audit', '  action: AUDIT\n  rules:\n  - {}'), allowed: true },
];

for (const [i, row] of ROWS.entries()) {
  test.serial(row.name, async (t) => {
    const s = await db.applyConfig(pilotConfig(proxyNode('sidecar', { workload: 'db-1', serviceAccount: 'db', ip: DB, labels: { app: 'db' } }), snapshot(row.policies), String(i + 2)));
    if (!s.ok) return t.fail(String(s.errors[0]));
    const before = accepted;
    const payload = Buffer.from(`row ${i} bytes`);
    const { echoed } = await roundTrip(payload);
    if (row.allowed) {
      t.deepEqual(echoed, payload);
      t.is(accepted, before + 1);
    } else {
      t.is(echoed.length, 0, 'nothing comes back');
      t.is(accepted, before, 'the app never sees a denied connection');
      t.regex(await db.telemetry.metrics(), /envoy_tcp_rbac_denied\S* [1-9]/);
    }
  });
}
