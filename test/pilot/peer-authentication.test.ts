import test from 'ava';
import { applicablePolicies, type EffectiveMtlsMode, effectiveMtlsMode, workloadMtlsMode } from '../../src/pilot/model/peer-authentication.ts';
import { validateListener } from '../../src/xds/validate/index.ts';
import { decoded } from '../xds/support/decode.ts';
import { endpointRows, endpointsOf, listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/** PeerAuthentication: Istio's precedence (workload > namespace > mesh, UNSET inherits) and the inbound chains each mode yields. */

const pa = (ns: string, name: string, spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n---\n`;

const MESH_STRICT = pa('istio-system', 'default', '{mtls: {mode: STRICT}}');
const NS_DISABLE = pa('default', 'default', '{mtls: {mode: DISABLE}}');
const NS_UNSET = pa('default', 'default', '{mtls: {mode: UNSET}}');
const WL_PERMISSIVE = pa('default', 'db', '{selector: {matchLabels: {app: db}}, mtls: {mode: PERMISSIVE}}');
const WL_PORTS = pa('default', 'db', '{selector: {matchLabels: {app: db}}, portLevelMtls: {"5432": {mode: DISABLE}, "9090": {mode: UNSET}}}');
const WL_OTHER_NS = pa('other', 'db', '{selector: {matchLabels: {app: db}}, mtls: {mode: DISABLE}}');
const OTHER_NS = pa('other', 'default', '{mtls: {mode: DISABLE}}');

const ROWS: { name: string; yaml: string; port: number; mode: EffectiveMtlsMode }[] = [
  { name: 'no policy: PERMISSIVE', yaml: '', port: 5432, mode: 'PERMISSIVE' },
  { name: 'mesh STRICT applies', yaml: MESH_STRICT, port: 5432, mode: 'STRICT' },
  { name: 'namespace overrides mesh', yaml: MESH_STRICT + NS_DISABLE, port: 5432, mode: 'DISABLE' },
  { name: 'namespace UNSET inherits the mesh', yaml: MESH_STRICT + NS_UNSET, port: 5432, mode: 'STRICT' },
  { name: 'workload overrides namespace', yaml: NS_DISABLE + WL_PERMISSIVE, port: 5432, mode: 'PERMISSIVE' },
  { name: 'portLevelMtls overrides its port', yaml: MESH_STRICT + WL_PORTS, port: 5432, mode: 'DISABLE' },
  { name: 'portLevelMtls UNSET inherits (workload UNSET → mesh)', yaml: MESH_STRICT + WL_PORTS, port: 9090, mode: 'STRICT' },
  { name: 'another port of a port-level policy inherits', yaml: NS_DISABLE + WL_PORTS, port: 8080, mode: 'DISABLE' },
  { name: 'a selector in another namespace does not apply', yaml: MESH_STRICT + WL_OTHER_NS, port: 5432, mode: 'STRICT' },
  { name: 'another namespace’s policy does not apply', yaml: MESH_STRICT + OTHER_NS, port: 5432, mode: 'STRICT' },
];

function snapshotWith(yaml: string) {
  const b = new SnapshotBuilder().workload('db-v1', 'db', 5432, { protocol: 'tcp', labels: { app: 'db' } });
  if (yaml !== '') b.yaml(yaml);
  return b.build();
}

for (const row of ROWS) {
  test(`precedence: ${row.name}`, (t) => {
    const snap = snapshotWith(row.yaml);
    const workload = { namespace: 'default', labels: { app: 'db' } };
    t.is(workloadMtlsMode(snap, workload, row.port), row.mode);
    t.is(effectiveMtlsMode(applicablePolicies(snap.peerAuthentications, workload), row.port), row.mode);
  });
}

test('precedence: of two matching workload policies the first by name wins', (t) => {
  const snap = snapshotWith(pa('default', 'b', '{selector: {matchLabels: {app: db}}, mtls: {mode: DISABLE}}') + pa('default', 'a', '{selector: {matchLabels: {app: db}}, mtls: {mode: STRICT}}'));
  t.is(workloadMtlsMode(snap, { namespace: 'default', labels: { app: 'db' } }, 5432), 'STRICT');
});

/** What the inbound listener holds per mode, for an HTTP and a TCP port: [chain name, transport_protocol, has TLS]. */
const CHAIN_ROWS: { mode: string; http: [string, string, boolean][]; tcp: [string, string, boolean][] }[] = [
  {
    mode: 'STRICT',
    http: [['inbound|8080||', 'tls', true]],
    tcp: [['inbound|5432||', 'tls', true]],
  },
  {
    mode: 'PERMISSIVE',
    http: [['inbound|8080||', 'tls', true], ['inbound|8080||-plaintext', 'raw_buffer', false]],
    tcp: [['inbound|5432||', 'tls', true], ['inbound|5432||-plaintext', 'raw_buffer', false]],
  },
  {
    mode: 'DISABLE',
    http: [['inbound|8080||-plaintext', 'raw_buffer', false]],
    tcp: [['inbound|5432||-plaintext', 'raw_buffer', false]],
  },
];

for (const row of CHAIN_ROWS) {
  test(`LDS: ${row.mode} gives virtualInbound these chains, and the sidecar's validator accepts them`, (t) => {
    for (const [port, protocol, expected] of [[8080, 'http', row.http], [5432, 'tcp', row.tcp]] as const) {
      const snap = new SnapshotBuilder()
        .workload('db-v1', 'db', port, { protocol, labels: { app: 'db' } })
        .yaml(pa('default', 'default', `{mtls: {mode: ${row.mode}}}`))
        .build();
      const l = listenersOf(proxyNode('sidecar', { workload: 'db-v1', ip: '127.0.1.1' }), snap).get('virtualInbound');
      t.deepEqual(
        l?.filter_chains?.map((c) => [c.name, c.filter_chain_match?.transport_protocol ?? '', c.transport_socket !== undefined]),
        expected,
        `${row.mode} ${protocol}`,
      );
      const v = validateListener(decoded(l ?? {}));
      t.true(v.ok, v.ok ? '' : v.errors.join('\n'));
      if (v.ok) t.deepEqual(v.value.filterChains.map((c) => c.transportProtocol), expected.map(([, tp]) => tp));
    }
  });
}

test('LDS: portLevelMtls gives one port its own chains', (t) => {
  const snap = new SnapshotBuilder()
    .workload('db-v1', 'db', 8080, { labels: { app: 'db' } })
    .workload('db-v1', 'db-admin', 9090, { labels: { app: 'db' }, address: '127.0.1.1' })
    .yaml(MESH_STRICT + pa('default', 'db', '{selector: {matchLabels: {app: db}}, portLevelMtls: {"9090": {mode: PERMISSIVE}}}'))
    .build();
  const l = listenersOf(proxyNode('sidecar', { workload: 'db-v1', ip: '127.0.1.1' }), snap).get('virtualInbound');
  t.deepEqual(l?.filter_chains?.map((c) => c.name), ['inbound|8080||', 'inbound|9090||', 'inbound|9090||-plaintext']);
});

test('LDS: a changed policy is not served from the listener memo', (t) => {
  const b = (mode: string) =>
    new SnapshotBuilder().workload('db-v1', 'db', 8080, { labels: { app: 'db' } }).yaml(pa('default', 'default', `{mtls: {mode: ${mode}}}`)).build();
  const proxy = proxyNode('sidecar', { workload: 'db-v1', ip: '127.0.1.1' });
  t.is(listenersOf(proxy, b('STRICT')).get('virtualInbound')?.filter_chains?.length, 1);
  t.is(listenersOf(proxy, b('PERMISSIVE')).get('virtualInbound')?.filter_chains?.length, 2);
});

/** Auto-mTLS (Istio's endpoint tlsMode): what a caller's EDS says of the db endpoint under each policy. */
const EDS_ROWS: { name: string; yaml: string; tlsMode: string }[] = [
  { name: 'no policy', yaml: '', tlsMode: 'istio' },
  { name: 'mesh STRICT', yaml: MESH_STRICT, tlsMode: 'istio' },
  { name: 'namespace DISABLE', yaml: NS_DISABLE, tlsMode: 'disabled' },
  { name: 'port-level DISABLE on the endpoint port', yaml: MESH_STRICT + WL_PORTS, tlsMode: 'disabled' },
];

for (const row of EDS_ROWS) {
  test(`EDS: ${row.name} → the endpoint's tlsMode is ${row.tlsMode}, still through its sidecar's inbound port`, (t) => {
    const snap = new SnapshotBuilder().workload('db-v1', 'db', 5432, { protocol: 'tcp', labels: { app: 'db' } }).workload('caller-v1', 'caller', 8080);
    if (row.yaml !== '') snap.yaml(row.yaml);
    const cla = endpointsOf(proxyNode('sidecar', { workload: 'caller-v1', ip: '127.0.1.2' }), snap.build()).get('outbound|5432||db.default.svc.cluster.local');
    const rows = endpointRows(cla);
    t.is(rows.length, 1);
    const meta = rows[0]?.[5] as { istio?: { tlsMode?: string }; meshfed?: { inbound_port?: number } } | undefined;
    t.is(meta?.istio?.tlsMode, row.tlsMode);
    t.is(meta?.meshfed?.inbound_port, 15006);
  });
}
