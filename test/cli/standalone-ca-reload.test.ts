// Addresses: 127.175.4.1 (a standalone Citadel and a standalone Mixer, ports from listen(0)).
/**
 * `meshfed citadel` and `meshfed mixer` (the compiled CLI, as `--control-plane split` runs them)
 * follow their CA folder through the phases of a root rotation without a restart: after `reissue`
 * Citadel signs under the new intermediate and both serve a certificate from it; after `drop`
 * Mixer refuses a sidecar certificate from the old root and takes one from the new root.
 * With the watch taken out of either command, this test fails.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { type CertBundle, initCa, requestCertificate, runRotationPhase } from '../../src/citadel/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from '../../src/cli/control-plane-name.ts';
import { randomToken, tempDir, writeTokenFile } from '../citadel/fixtures.ts';
import { streamAccessLogs } from '../mixer/support-als.ts';
import { pollUntil } from '../pilot/support/wait.ts';
import { startMeshfed } from '../support/cli.ts';
import { eventually } from '../support/eventually.ts';

const HOST = '127.175.4.1';

/** The leaf a server presents on `port` (verified against `rootsPem`, the bundle of both roots). */
function servedLeaf(port: number, rootsPem: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: HOST, port, servername: CONTROL_PLANE_SERVER_NAME, ca: rootsPem, ALPNProtocols: ['h2'] }, () => {
      const leaf = sock.getPeerX509Certificate();
      sock.destroy();
      if (leaf) resolve(leaf);
      else reject(new Error('no peer certificate'));
    });
    sock.on('error', reject);
  });
}

/** An empty access-log stream to Mixer with a sidecar's certificate: resolves with its status (null: accepted). */
function accessLogStream(port: number, rootsPem: string, cert: CertBundle): Promise<grpc.ServiceError | null> {
  const creds = grpc.credentials.createSsl(Buffer.from(rootsPem), Buffer.from(cert.privateKeyPem), Buffer.from(cert.certChainPem));
  return streamAccessLogs(`${HOST}:${port}`, creds, CONTROL_PLANE_SERVER_NAME, []);
}

test('a standalone Citadel and a standalone Mixer follow their CA folder through a root rotation, without a restart', async (t) => {
  const dir = await tempDir(t);
  const caRoot = path.join(dir, 'ca');
  const caDir = path.join(caRoot, 'east');
  await initCa({ dir: caRoot, clusters: ['east'], trustDomain: 'cluster.local' });
  const token = randomToken();
  const tokensFile = await writeTokenFile(path.join(dir, 'tokens.json'), { [token]: { namespace: 'default', serviceAccount: 'reviews' } });
  const citadel = startMeshfed(t, ['citadel', '--address', HOST, '--port', '0', '--ca-dir', caDir, '--auth', 'bootstrap', '--tokens-file', tokensFile]);
  const mixer = startMeshfed(t, ['mixer', '--address', HOST, '--grpc-port', '0', '--metrics-port', '0', '--ca-dir', caDir]);
  await pollUntil(() => /"port":\d+.*citadel ready/.test(citadel.output()) || citadel.exited(), 'citadel ready', 30_000);
  await pollUntil(() => /"grpcPort":\d+/.test(mixer.output()) || mixer.exited(), 'mixer listening', 30_000);
  const citadelPort = Number(/"port":(\d+)/.exec(citadel.output())?.[1]);
  const mixerPort = Number(/"grpcPort":(\d+)/.exec(mixer.output())?.[1]);
  t.true(citadelPort > 0 && mixerPort > 0, `${citadel.output()}\n${mixer.output()}`);

  const bundle = () => readFile(path.join(caDir, 'root-cert.pem'), 'utf8');
  const intermediate = async () => new X509Certificate(await readFile(path.join(caDir, 'ca-cert.pem'), 'utf8'));
  const ask = async (): Promise<CertBundle> =>
    requestCertificate({
      target: `${HOST}:${citadelPort}`,
      rootsPem: await bundle(),
      serverName: CONTROL_PLANE_SERVER_NAME,
      token,
      identity: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' },
      ttlSeconds: 600,
    });
  const oldCert = await ask();
  t.is(await accessLogStream(mixerPort, await bundle(), oldCert), null, 'before the rotation Mixer takes a sidecar certificate');

  const rotation = { dir: caRoot, clusters: ['east'], trustDomain: 'cluster.local' };
  await runRotationPhase('distribute', rotation);
  await runRotationPhase('reissue', rotation);
  const next = await intermediate();
  // Both serve from the new intermediate once they have read the folder.
  for (const [name, port] of [['citadel', citadelPort], ['mixer', mixerPort]] as const) {
    const leaf = await eventually(`${name} serves from the new intermediate`, async () => {
      const l = await servedLeaf(port, await bundle());
      return l.verify(next.publicKey) ? l : undefined;
    }, 10_000);
    t.true(leaf.verify(next.publicKey), `${name}'s serving certificate is signed by the new intermediate`);
  }
  const newCert = await ask();
  t.true(new X509Certificate(newCert.certChainPem).verify(next.publicKey), 'Citadel signs under the new intermediate');

  await runRotationPhase('drop', rotation);
  const onlyNew = await bundle();
  // Mixer trusts the new root alone: the old sidecar certificate no longer verifies, so the call is
  // UNAUTHENTICATED (Mixer asks for a client certificate and checks it per call).
  const refused = await eventually('mixer refuses a certificate from the old root', async () => (await accessLogStream(mixerPort, onlyNew, oldCert)) ?? undefined, 10_000);
  t.is(refused.code, grpc.status.UNAUTHENTICATED, refused.message);
  t.is(await accessLogStream(mixerPort, onlyNew, newCert), null, 'a certificate from the new root is taken');
  t.false(citadel.exited() || mixer.exited(), 'neither process restarted');
});
