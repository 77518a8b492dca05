// Addresses: 127.163.2.1 (the control plane's standard ports on its own loopback address).
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { initCa } from '../../src/citadel/index.ts';
import { startControlPlane } from '../../src/cli/control-plane.ts';
import { silentLogger, tempDir } from '../citadel/fixtures.ts';

const ADDRESS = '127.163.2.1';
const SERVER_NAME = 'istiod.istio-system.svc';

function servingCertificate(): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    // Not verified by the handshake: on a loaded machine a poll may meet the old certificate just
    // after its short life ended. The chain is checked against the CA below instead.
    const sock = tls.connect({ host: ADDRESS, port: 15012, servername: SERVER_NAME, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      const raw = sock.getPeerCertificate().raw;
      sock.destroy();
      resolve(new X509Certificate(raw));
    });
    sock.on('error', reject);
  });
}

test('the control plane renews its 15012 serving certificate at half its life, without a restart', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify({ cluster: 'east', gatewayAddress: '127.163.2.2', workloads: [] }));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const cp = await startControlPlane({
    cluster: 'east',
    address: ADDRESS,
    trustDomain: 'cluster.local',
    caDir: path.join(dir, 'ca', 'east'),
    registryFile,
    configDir,
    discovery: { kind: 'none' },
    servingTtlSeconds: 6,
    logger: silentLogger,
  });
  t.teardown(() => cp.close());
  const { readFile } = await import('node:fs/promises');
  const intermediate = new X509Certificate(await readFile(path.join(dir, 'ca', 'east', 'ca-cert.pem'), 'utf8'));
  const first = await servingCertificate();
  t.true(first.verify(intermediate.publicKey), 'the first serving certificate is issued by the cluster CA');
  // notBefore is backdated for clock skew; what is left of the life follows servingTtlSeconds.
  const leftMs = Date.parse(first.validTo) - Date.now();
  t.true(leftMs <= 7000, `serving certificate has ${leftMs} ms left, expected at most servingTtlSeconds`);
  // Poll new handshakes until a renewed certificate shows (safety net: several lives).
  let renewed = first;
  for (let i = 0; i < 300 && renewed.serialNumber === first.serialNumber; i++) {
    await new Promise((r) => setTimeout(r, 100));
    renewed = await servingCertificate();
  }
  t.not(renewed.serialNumber, first.serialNumber);
  t.true(renewed.verify(intermediate.publicKey), 'the renewed serving certificate is issued by the cluster CA');
  t.true(Date.parse(renewed.validTo) > Date.parse(first.validTo));
});
