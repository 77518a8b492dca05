// Addresses: 127.175.3.1 (the control plane's standard ports on its own loopback address).
/**
 * The control plane follows its CA folder without a restart, through the phases of a root
 * rotation (src/citadel/ca-rotation.ts): /debug/trustz reports the bundle, Citadel signs under the
 * new intermediate, 15012 serves a certificate from it, and a TLS connection opened before the
 * reload stays open. Real sockets, real Citadel over TLS.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { initCa, requestCertificate, runRotationPhase } from '../../src/citadel/index.ts';
import { startControlPlane } from '../../src/cli/control-plane.ts';
import { randomToken, silentLogger, tempDir, writeTokenFile } from '../citadel/fixtures.ts';

const ADDRESS = '127.175.3.1';
const SERVER_NAME = 'istiod.istio-system.svc';

interface Trustz {
  rootFingerprints: string[];
  signingRoot: string;
  servingChainRoot: string | null;
}

async function trustz(): Promise<Trustz> {
  const r = await fetch(`http://${ADDRESS}:15014/debug/trustz`);
  return (await r.json()) as Trustz;
}

async function until(what: string, check: (z: Trustz) => boolean): Promise<Trustz> {
  let last: Trustz | undefined;
  for (let i = 0; i < 200; i++) {
    last = await trustz();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: last /debug/trustz ${JSON.stringify(last)}`);
}

test('the control plane reloads its CA folder through a root rotation, without a restart', async (t) => {
  const dir = await tempDir(t);
  const caDir = path.join(dir, 'ca');
  await initCa({ dir: caDir, clusters: ['east'], trustDomain: 'cluster.local' });
  const registryFile = path.join(dir, 'workloads.json');
  writeFileSync(registryFile, JSON.stringify({ cluster: 'east', gatewayAddress: '127.175.3.2', workloads: [] }));
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const token = randomToken();
  const tokensFile = await writeTokenFile(path.join(dir, 'tokens.json'), { [token]: { namespace: 'default', serviceAccount: 'reviews' } });
  const cp = await startControlPlane({
    cluster: 'east',
    address: ADDRESS,
    trustDomain: 'cluster.local',
    caDir: path.join(caDir, 'east'),
    registryFile,
    configDir,
    citadel: { tokensFile },
    discovery: { kind: 'none' },
    logger: silentLogger,
  });
  t.teardown(() => cp.close());
  const rotation = { dir: caDir, clusters: ['east'], trustDomain: 'cluster.local' };
  const before = await trustz();
  const oldRoot = before.rootFingerprints[0] ?? '';
  t.deepEqual(before, { ...before, rootFingerprints: [oldRoot], signingRoot: oldRoot, servingChainRoot: oldRoot });

  // A connection opened under the old material; it must survive every reload.
  const open = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host: ADDRESS, port: 15012, servername: SERVER_NAME, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => resolve(s));
    s.on('error', reject);
  });
  t.teardown(() => open.destroy());
  let closed = false;
  open.on('close', () => {
    closed = true;
  });

  const p1 = await runRotationPhase('distribute', rotation);
  await until('both roots', (z) => z.rootFingerprints.length === 2 && z.rootFingerprints.includes(p1.newRoot));
  const p2 = await runRotationPhase('reissue', rotation);
  const z2 = await until('signing under the new root', (z) => z.signingRoot === p2.newRoot && z.servingChainRoot === p2.newRoot);
  t.deepEqual([...z2.rootFingerprints].sort(), [oldRoot, p2.newRoot].sort());

  // Citadel signs under the new intermediate; the answer verifies against the new root alone.
  const both = await readFile(path.join(caDir, 'east', 'root-cert.pem'), 'utf8');
  const issued = await requestCertificate({
    target: `${ADDRESS}:15012`,
    rootsPem: both,
    serverName: SERVER_NAME,
    token,
    identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' },
  });
  const intermediate = new X509Certificate(await readFile(path.join(caDir, 'east', 'ca-cert.pem'), 'utf8'));
  t.true(new X509Certificate(issued.certChainPem).verify(intermediate.publicKey), 'signed by the new intermediate');

  await runRotationPhase('drop', rotation);
  await until('the new root alone', (z) => z.rootFingerprints.length === 1 && z.rootFingerprints[0] === p2.newRoot);
  t.false(closed, 'the connection opened before the reloads is still open');
});
