// Addresses: 127.163.1.1 (control plane), ports from listen(0).
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import {
  type CaMaterial,
  type CertBundle,
  CertificateRequestError,
  createCitadelService,
  initCa,
  issueServingCertificate,
  loadCa,
  MemoryCertificateProvider,
  requestCertificate,
} from '../../../src/citadel/index.ts';
import type { WorkloadRegistryFile } from '../../../src/common/workload.ts';
import { createDiscoveryServer, type DiscoveryServer } from '../../../src/pilot/index.ts';
import { TYPE_URL } from '../../../src/xds/type-urls.ts';
import { silentLogger, tempDir } from '../../citadel/fixtures.ts';
import { RawAdsStream, TEST_NODE, wireNode } from '../../xds/support/raw-ads-stream.ts';

const ADDRESS = '127.163.1.1';
const SERVER_NAME = 'istiod.istio-system.svc';
const TOKENS: Record<string, { namespace: string; serviceAccount: string }> = {
  'token-productpage': { namespace: TEST_NODE.namespace, serviceAccount: TEST_NODE.serviceAccount },
  'token-ratings': { namespace: 'default', serviceAccount: 'ratings' },
  'token-other-ns': { namespace: 'other', serviceAccount: TEST_NODE.serviceAccount },
};

interface Fixture {
  server: DiscoveryServer;
  ca: CaMaterial;
  metrics: Registry;
  secure: string;
  certFor(token: string): Promise<CertBundle>;
}

async function start(t: ExecutionContext): Promise<Fixture> {
  const dir = await tempDir(t);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'ca', 'east'));
  const registryFile = path.join(dir, 'workloads.json');
  const file: WorkloadRegistryFile = { cluster: 'east', gatewayAddress: '127.163.1.2', workloads: [] };
  writeFileSync(registryFile, JSON.stringify(file));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const metrics = new Registry();
  const server = await createDiscoveryServer({
    cluster: 'east',
    trustDomain: 'cluster.local',
    address: ADDRESS,
    registryFile,
    configDir,
    serving: issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ipAddresses: [ADDRESS], ttlSeconds: 3600 }),
    clientRootsPem: ca.rootPem,
    ports: { xdsPlain: 0, xdsTls: 0 },
    metrics,
    logger: silentLogger,
  });
  const citadel = createCitadelService({
    ca,
    trustDomain: 'cluster.local',
    authenticate: (md) => {
      const bearer = String(md.get('authorization')[0] ?? '').replace(/^Bearer /, '');
      const id = TOKENS[bearer];
      return id ? { ...id, workload: `${id.serviceAccount}-0` } : undefined;
    },
    logger: silentLogger,
  });
  server.secureServer.addService(citadel.definition, citadel.implementation);
  t.teardown(() => server.close());
  await server.listen();
  const secure = server.addresses.secure;
  return {
    server,
    ca,
    metrics,
    secure,
    certFor: (token) =>
      requestCertificate({
        target: secure,
        rootsPem: ca.rootPem,
        serverName: SERVER_NAME,
        token,
        identity: { trustDomain: 'cluster.local', ...(TOKENS[token] ?? { namespace: 'x', serviceAccount: 'x' }) },
      }),
  };
}

function stream(target: string, credentials: grpc.ChannelCredentials, node = wireNode()): RawAdsStream {
  return new RawAdsStream(target, { credentials, channelOptions: { 'grpc.ssl_target_name_override': SERVER_NAME }, node });
}

function clientCreds(ca: CaMaterial, bundle?: { certChainPem: string; privateKeyPem: string }): grpc.ChannelCredentials {
  return bundle
    ? grpc.credentials.createSsl(Buffer.from(ca.rootPem), Buffer.from(bundle.privateKeyPem), Buffer.from(bundle.certChainPem))
    : grpc.credentials.createSsl(Buffer.from(ca.rootPem));
}

async function failures(metrics: Registry, reason: string): Promise<number> {
  const m = await metrics.getSingleMetric('meshfed_xds_auth_failures_total')?.get();
  return m?.values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
}

interface Row {
  name: string;
  /** Which certificate the client presents: a token's, one from a foreign CA, or none. */
  cert: 'token-productpage' | 'token-ratings' | 'token-other-ns' | 'foreign' | 'none';
  want: grpc.status | 'served';
  reason?: 'unauthenticated' | 'identity_mismatch';
}

const ROWS: Row[] = [
  { name: 'a node whose namespace and service account match its certificate is served', cert: 'token-productpage', want: 'served' },
  { name: 'no client certificate: UNAUTHENTICATED', cert: 'none', want: grpc.status.UNAUTHENTICATED, reason: 'unauthenticated' },
  { name: 'a certificate from a CA outside the trust bundle: UNAUTHENTICATED', cert: 'foreign', want: grpc.status.UNAUTHENTICATED, reason: 'unauthenticated' },
  { name: 'another service account than the certificate: PERMISSION_DENIED', cert: 'token-ratings', want: grpc.status.PERMISSION_DENIED, reason: 'identity_mismatch' },
  { name: 'another namespace than the certificate: PERMISSION_DENIED', cert: 'token-other-ns', want: grpc.status.PERMISSION_DENIED, reason: 'identity_mismatch' },
];

for (const row of ROWS) {
  test(`15012 ADS: ${row.name}`, async (t) => {
    const f = await start(t);
    let creds: grpc.ChannelCredentials;
    if (row.cert === 'none') creds = clientCreds(f.ca);
    else if (row.cert === 'foreign') {
      const dir = await tempDir(t);
      await initCa({ dir, clusters: ['east'], trustDomain: 'cluster.local' });
      const foreign = await loadCa(path.join(dir, 'east'));
      // A CA outside the bundle signs a certificate that claims the node's exact identity.
      const fake = issueServingCertificate({ ca: foreign, dnsNames: ['x'], spiffeId: 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage', ttlSeconds: 600 });
      creds = clientCreds(f.ca, fake);
    } else creds = clientCreds(f.ca, await f.certFor(row.cert));
    const before = row.reason ? await failures(f.metrics, row.reason) : 0;
    const s = stream(f.secure, creds);
    t.teardown(() => s.close());
    s.send({ typeUrl: TYPE_URL.cluster });
    if (row.want === 'served') {
      const r = await s.next();
      t.is(r.type_url, TYPE_URL.cluster);
      t.is(f.server.ads.status().length, 1);
      return;
    }
    const st = await s.status;
    t.is(st.code, row.want, st.details);
    t.is(f.server.ads.status().length, 0);
    if (row.reason) t.is(await failures(f.metrics, row.reason), before + 1);
  });
}

test('15010 (plain, local only) keeps serving without a certificate; 15012 still signs a CSR for a workload without one', async (t) => {
  const f = await start(t);
  const s = new RawAdsStream(f.server.addresses.plain);
  t.teardown(() => s.close());
  s.send({ typeUrl: TYPE_URL.cluster });
  t.is((await s.next()).type_url, TYPE_URL.cluster);
  const bundle = await f.certFor('token-productpage');
  t.is(bundle.spiffeId, 'spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
});

test('attack 22: a CSR for another identity than the bootstrap token names is refused', async (t) => {
  const f = await start(t);
  const err = await t.throwsAsync<CertificateRequestError>(
    requestCertificate({
      target: f.secure,
      rootsPem: f.ca.rootPem,
      serverName: SERVER_NAME,
      token: 'token-ratings',
      identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'bookinfo-productpage' },
    }),
    { instanceOf: CertificateRequestError },
  );
  t.is(err?.grpcCode, grpc.status.PERMISSION_DENIED);
});

function servingSerial(address: string, ca: CaMaterial): Promise<string> {
  const [host = '', port = ''] = address.split(':');
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host, port: Number(port), servername: SERVER_NAME, ca: ca.rootPem, ALPNProtocols: ['h2'] }, () => {
      const serial = sock.getPeerCertificate().serialNumber;
      sock.destroy();
      resolve(serial);
    });
    sock.on('error', reject);
  });
}

test('setServing swaps the 15012 certificate in place: new handshakes see it, an open stream stays up', async (t) => {
  const f = await start(t);
  const s = stream(f.secure, clientCreds(f.ca, await f.certFor('token-productpage')));
  t.teardown(() => s.close());
  s.send({ typeUrl: TYPE_URL.cluster });
  await s.next();
  const before = await servingSerial(f.secure, f.ca);
  const renewed = issueServingCertificate({ ca: f.ca, dnsNames: [SERVER_NAME], ipAddresses: [ADDRESS], ttlSeconds: 3600 });
  f.server.setServing(renewed);
  const after = await servingSerial(f.secure, f.ca);
  t.not(after, before);
  t.is(after, new X509Certificate(renewed.certChainPem).serialNumber);
  // The stream opened before the swap still answers: a new subscription gets its response.
  s.send({ typeUrl: TYPE_URL.listener });
  t.is((await s.next()).type_url, TYPE_URL.listener);
  t.is(f.server.ads.status().length, 1);
});

test('MemoryCertificateProvider hands the latest identity and roots to late and existing listeners', async (t) => {
  const p = new MemoryCertificateProvider({ rootsPem: 'R1' });
  const seen: string[] = [];
  p.addCaCertificateListener((u) => seen.push(`ca:${u?.caCertificate.toString() ?? 'null'}`));
  p.addIdentityCertificateListener((u) => seen.push(`id:${u?.certificate.toString() ?? 'null'}`));
  await new Promise((resolve) => process.nextTick(resolve));
  t.deepEqual(seen, ['ca:R1']);
  p.setIdentity({ certChainPem: 'C1', privateKeyPem: 'K1' });
  p.setRoots('R2');
  t.deepEqual(seen, ['ca:R1', 'id:C1', 'ca:R2']);
});

test('15010 is plain xDS: an unspecified bind address (0.0.0.0, ::) is refused unless plainXdsAnyAddress says so', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'ca', 'east'));
  for (const address of ['0.0.0.0', '::']) {
    const err = await t.throwsAsync(
      createDiscoveryServer({
        cluster: 'east',
        trustDomain: 'cluster.local',
        address,
        serving: issueServingCertificate({ ca, dnsNames: [SERVER_NAME], ttlSeconds: 600 }),
        clientRootsPem: ca.rootPem,
        metrics: new Registry(),
        logger: silentLogger,
      }),
    );
    t.regex(String(err?.message), /invalid address: .* plain, unauthenticated xDS \(15010\)/);
  }
});
