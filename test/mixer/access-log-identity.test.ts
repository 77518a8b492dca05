// Addresses: 127.163.3.1 (Mixer), ports from listen(0).
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { type CaMaterial, initCa, issueServingCertificate, loadCa } from '../../src/citadel/index.ts';
import { type MixerHandle, startMixer } from '../../src/mixer/index.ts';
import { nodeMessage } from '../../src/xds/node.ts';
import { type JsonValue, toStruct } from '../../src/xds/struct.ts';
import { silentLogger, tempDir } from '../citadel/fixtures.ts';
import { streamAccessLogs } from './support-als.ts';

const HOST = '127.163.3.1';
const SERVER_NAME = 'mixer.test';

function node(serviceAccount: string): Record<string, unknown> {
  return { ...nodeMessage({ type: 'sidecar', ip: '127.163.3.20', workload: 'productpage-v1', namespace: 'default', cluster: 'east', serviceAccount, labels: {} }) };
}

function entry(attrs: Record<string, JsonValue>): Record<string, unknown> {
  return { common_properties: { metadata: { filter_metadata: { meshfed: toStruct(attrs) } } }, response: { response_code: { value: 200 } } };
}

const OWN = {
  reporter: 'source',
  source_workload: 'productpage-v1',
  source_namespace: 'default',
  source_cluster: 'east',
  destination_service: 'reviews.default.svc.cluster.local',
  destination_workload: 'reviews-v1',
  destination_cluster: 'east',
  connection_security_policy: 'mutual_tls',
};

async function start(t: ExecutionContext): Promise<{ mixer: MixerHandle; ca: CaMaterial }> {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'east'));
  const serving = issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ttlSeconds: 600 });
  const mixer = await startMixer({ host: HOST, grpcPort: 0, metricsPort: 0, tls: { ...serving, clientRootsPem: ca.rootPem, trustDomain: 'cluster.local' }, logger: silentLogger });
  t.teardown(() => mixer.close());
  return { mixer, ca };
}

async function sample(mixer: MixerHandle, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = await mixer.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))?.value;
}

interface Row {
  name: string;
  cert: 'productpage' | 'none';
  nodeSa: string;
  attrs: Record<string, JsonValue>;
  wantCode: grpc.status | null;
  counter: [string, Record<string, string>, number];
}

const ROWS: Row[] = [
  {
    name: 'a sidecar reporting for its own workload is counted',
    cert: 'productpage',
    nodeSa: 'bookinfo-productpage',
    attrs: OWN,
    wantCode: null,
    counter: ['meshfed_mixer_access_log_entries_total', { result: 'accepted' }, 1],
  },
  {
    name: 'an entry for a workload in another namespace than the certificate is dropped and counted',
    cert: 'productpage',
    nodeSa: 'bookinfo-productpage',
    attrs: { ...OWN, source_namespace: 'payments' },
    wantCode: null,
    counter: ['meshfed_mixer_access_log_entries_total', { result: 'identity_mismatch' }, 1],
  },
  {
    name: 'a destination report for a service in another namespace is dropped and counted',
    cert: 'productpage',
    nodeSa: 'bookinfo-productpage',
    attrs: { ...OWN, reporter: 'destination', destination_service: 'ledger.payments.svc.cluster.local' },
    wantCode: null,
    counter: ['meshfed_mixer_access_log_entries_total', { result: 'identity_mismatch' }, 1],
  },
  {
    name: 'no client certificate: UNAUTHENTICATED',
    cert: 'none',
    nodeSa: 'bookinfo-productpage',
    attrs: OWN,
    wantCode: grpc.status.UNAUTHENTICATED,
    counter: ['meshfed_mixer_streams_refused_total', { reason: 'unauthenticated' }, 1],
  },
  {
    name: 'a node claiming another service account than its certificate: PERMISSION_DENIED',
    cert: 'productpage',
    nodeSa: 'ratings',
    attrs: OWN,
    wantCode: grpc.status.PERMISSION_DENIED,
    counter: ['meshfed_mixer_streams_refused_total', { reason: 'identity_mismatch' }, 1],
  },
];

for (const row of ROWS) {
  test(`Mixer over mutual TLS: ${row.name}`, async (t) => {
    const { mixer, ca } = await start(t);
    const creds =
      row.cert === 'none'
        ? grpc.credentials.createSsl(Buffer.from(ca.rootPem))
        : (() => {
            const c = issueServingCertificate({ ca, dnsNames: ['productpage'], spiffeId: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', ttlSeconds: 600 });
            return grpc.credentials.createSsl(Buffer.from(ca.rootPem), Buffer.from(c.privateKeyPem), Buffer.from(c.certChainPem));
          })();
    const err = await streamAccessLogs(`${HOST}:${mixer.grpcPort}`, creds, SERVER_NAME, [{ identifier: { node: node(row.nodeSa), log_name: 'meshfed' }, http_logs: { log_entry: [entry(row.attrs)] } }]);
    t.is(err?.code ?? null, row.wantCode, err?.details);
    const [name, labels, want] = row.counter;
    t.is(await sample(mixer, name, labels), want);
    if (row.wantCode !== null || name !== 'meshfed_mixer_access_log_entries_total' || labels['result'] !== 'accepted') {
      t.is(await sample(mixer, 'meshfed_mixer_access_log_entries_total', { result: 'accepted' }), 0);
    }
  });
}
