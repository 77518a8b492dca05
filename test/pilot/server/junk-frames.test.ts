// Addresses: 127.163.4.1 (control plane), ports from listen(0).
// Attack case 30: garbage and oversized frames to 15010 and 15012 (ADS, Citadel, Mixer share it),
// unauthenticated: each is refused and the process keeps serving. The same for the ports of a
// standalone Citadel (`meshfed citadel`) and a standalone Mixer (`meshfed mixer`, gRPC and /metrics).
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { Registry } from 'prom-client';
import { createCitadelService, initCa, issueServingCertificate, loadCa, requestCertificate, startCitadel } from '../../../src/citadel/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from '../../../src/cli/control-plane-name.ts';
import { createMixerService, startMixer } from '../../../src/mixer/index.ts';
import { createDiscoveryServer } from '../../../src/pilot/index.ts';
import { TYPE_URL } from '../../../src/xds/type-urls.ts';
import { silentLogger, tempDir } from '../../citadel/fixtures.ts';
import { RawAdsStream } from '../../xds/support/raw-ads-stream.ts';

const ADDRESS = '127.163.4.1';
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** HTTP/2 frame header: length (24 bit), type, flags, stream id. */
function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUIntBE(length, 0, 3);
  b.writeUInt8(type, 3);
  b.writeUInt8(flags, 4);
  b.writeUInt32BE(stream, 5);
  return b;
}

const PAYLOADS: { name: string; bytes: Buffer }[] = [
  { name: 'random garbage', bytes: Buffer.from('\x16\x03\x01garbage\x00\xff\xfe not a protocol at all\r\n\r\n', 'latin1') },
  { name: 'an HTTP/1.1 request', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n') },
  { name: 'the HTTP/2 preface, then a frame claiming 16 MB', bytes: Buffer.concat([H2_PREFACE, frameHeader(0xffffff, 0, 0, 1), Buffer.alloc(1024, 0x41)]) },
  { name: 'the HTTP/2 preface, then a HEADERS frame of junk', bytes: Buffer.concat([H2_PREFACE, frameHeader(64, 1, 4, 1), Buffer.alloc(64, 0xff)]) },
];

/** Writes `bytes` on a raw (or TLS) connection; resolves when the server closes it. */
function blast(port: number, bytes: Buffer, overTls: boolean): Promise<void> {
  return new Promise((resolve) => {
    const sock = overTls
      ? tls.connect({ host: ADDRESS, port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => sock.write(bytes))
      : net.connect({ host: ADDRESS, port }, () => sock.write(bytes));
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.on('close', () => resolve());
    sock.setTimeout(5000, () => sock.destroy());
  });
}

test('garbage, HTTP/1.1 and malformed or oversized HTTP/2 frames to 15010 and 15012 are refused and both ports keep serving', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'ca', 'east'));
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify({ cluster: 'east', gatewayAddress: '127.163.4.2', workloads: [] }));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const metrics = new Registry();
  const server = await createDiscoveryServer({
    cluster: 'east',
    trustDomain: 'cluster.local',
    address: ADDRESS,
    registryFile,
    configDir,
    serving: issueServingCertificate({ ca, dnsNames: ['istiod.istio-system.svc'], ipAddresses: [ADDRESS], ttlSeconds: 600 }),
    clientRootsPem: ca.rootPem,
    ports: { xdsPlain: 0, xdsTls: 0 },
    metrics,
    logger: silentLogger,
  });
  const citadel = createCitadelService({ ca, trustDomain: 'cluster.local', authenticate: () => undefined, logger: silentLogger });
  server.secureServer.addService(citadel.definition, citadel.implementation);
  const mixer = createMixerService({ registry: metrics, peerIdentity: { trustDomain: 'cluster.local' }, logger: silentLogger });
  server.secureServer.addService(mixer.definition, mixer.implementation);
  t.teardown(() => server.close());
  await server.listen();
  const plainPort = Number(server.addresses.plain.split(':')[1]);
  const securePort = Number(server.addresses.secure.split(':')[1]);
  for (const p of PAYLOADS) {
    await blast(plainPort, p.bytes, false);
    await blast(securePort, p.bytes, true);
    await blast(securePort, p.bytes, false); // plaintext junk straight into the TLS port
  }
  // Still serving: a fresh ADS stream on 15010 gets its response after all of it.
  const s = new RawAdsStream(server.addresses.plain);
  t.teardown(() => s.close());
  s.send({ typeUrl: TYPE_URL.cluster });
  t.is((await s.next()).type_url, TYPE_URL.cluster);
  t.true(server.xdsReady() === true);
  // And 15012 still completes a TLS handshake with its serving certificate.
  const subject = await new Promise<string>((resolve, reject) => {
    const sock = tls.connect({ host: ADDRESS, port: securePort, servername: 'istiod.istio-system.svc', ca: ca.rootPem, ALPNProtocols: ['h2'] }, () => {
      const alt = sock.getPeerCertificate().subjectaltname;
      sock.destroy();
      resolve(alt ?? '');
    });
    sock.on('error', reject);
  });
  t.regex(subject, /DNS:istiod\.istio-system\.svc/);
  t.is(mixer.stats().entriesAccepted, 0);
});

/** The serving certificate's DNS SANs, from a TLS handshake that verifies it against `rootPem`. */
function servedNames(port: number, rootPem: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const sock = tls.connect({ host: ADDRESS, port, servername: CONTROL_PLANE_SERVER_NAME, ca: rootPem, ALPNProtocols: ['h2'] }, () => {
      const alt = sock.getPeerCertificate().subjectaltname;
      sock.destroy();
      resolve(alt ?? '');
    });
    sock.on('error', reject);
  });
}

test('garbage, HTTP/1.1 and malformed or oversized HTTP/2 frames to a standalone Citadel and a standalone Mixer are refused and both keep serving', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'ca', 'east'));
  const serving = () => issueServingCertificate({ ca, dnsNames: [CONTROL_PLANE_SERVER_NAME], ipAddresses: [ADDRESS], ttlSeconds: 600 });
  const citadel = await startCitadel({
    host: ADDRESS,
    port: 0,
    ca,
    trustDomain: 'cluster.local',
    authenticate: (md) => (md.get('authorization')[0] === 'Bearer probe-token' ? { namespace: 'default', serviceAccount: 'probe' } : undefined),
    servingCert: serving(),
    logger: silentLogger,
  });
  t.teardown(() => citadel.close());
  const mixer = await startMixer({ host: ADDRESS, grpcPort: 0, metricsPort: 0, tls: { ...serving(), clientRootsPem: ca.rootPem, trustDomain: 'cluster.local' }, logger: silentLogger });
  t.teardown(() => mixer.close());
  for (const p of PAYLOADS) {
    for (const port of [citadel.port, mixer.grpcPort]) {
      await blast(port, p.bytes, true);
      await blast(port, p.bytes, false);
    }
    await blast(mixer.metricsPort, p.bytes, false);
  }
  // Citadel still signs: a CSR with the token it accepts gets a certificate for that identity.
  const issued = await requestCertificate({
    target: `${ADDRESS}:${citadel.port}`,
    rootsPem: ca.rootPem,
    serverName: CONTROL_PLANE_SERVER_NAME,
    token: 'probe-token',
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'probe' },
    ttlSeconds: 600,
  });
  t.is(issued.spiffeId, 'spiffe://cluster.local/ns/default/sa/probe');
  // Mixer still completes handshakes on its gRPC port and answers /metrics, and counted no junk.
  t.regex(await servedNames(mixer.grpcPort, ca.rootPem), /DNS:istiod\.istio-system\.svc/);
  const res = await fetch(`http://${ADDRESS}:${mixer.metricsPort}/metrics`);
  t.is(res.status, 200);
  t.regex(await res.text(), /# TYPE /);
  t.is(mixer.stats().entriesAccepted, 0);
});
