import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import test from 'ava';
import { generateKeyAndCsr } from '../../src/citadel/certificate-client.ts';
import { derToPem } from '../../src/citadel/der.ts';
import { type CaMaterial, initCa, type KeyAlgorithm, loadCa, rootsFromPem, signWorkloadCsr, verifyPeerChain } from '../../src/citadel/index.ts';
import { buildCsr, encodeName } from '../../src/citadel/x509-build.ts';
import { tempDir, TRUST_DOMAIN } from './fixtures.ts';

const ALGORITHMS: KeyAlgorithm[] = ['ecdsa-p256', 'rsa-2048'];
const EXPECTED_TYPE: Record<KeyAlgorithm, 'ec' | 'rsa'> = { 'ecdsa-p256': 'ec', 'rsa-2048': 'rsa' };

function spiffe(sa: string): string {
  return `spiffe://${TRUST_DOMAIN}/ns/default/sa/${sa}`;
}

async function caOf(t: Parameters<typeof tempDir>[0], algorithm: KeyAlgorithm): Promise<CaMaterial> {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: ['east'], trustDomain: TRUST_DOMAIN, keyAlgorithm: algorithm });
  return loadCa(path.join(dir, 'east'));
}

interface Issued {
  key: string;
  cert: string;
  leaf: X509Certificate;
}

function issue(ca: CaMaterial, sa: string, algorithm: KeyAlgorithm): Issued {
  const { privateKeyPem, csrPem } = generateKeyAndCsr(spiffe(sa), algorithm);
  const signed = signWorkloadCsr({ ca, csrPem, identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: sa } });
  if (!signed.ok) throw new Error(signed.errors.message);
  const chain = signed.value.certChainPem;
  return { key: privateKeyPem, cert: chain.slice(0, -1).join(''), leaf: new X509Certificate(chain[0]!) };
}

for (const caAlgorithm of ALGORITHMS) {
  for (const workloadAlgorithm of ALGORITHMS) {
    test(`a CA with ${caAlgorithm} keys signs a workload key of ${workloadAlgorithm}, and the chain verifies`, async (t) => {
      const ca = await caOf(t, caAlgorithm);
      t.is(ca.privateKey.asymmetricKeyType, EXPECTED_TYPE[caAlgorithm]);
      const issued = issue(ca, 'reviews', workloadAlgorithm);
      t.is(issued.leaf.publicKey.asymmetricKeyType, EXPECTED_TYPE[workloadAlgorithm]);
      const verified = verifyPeerChain([issued.leaf, ...ca.chainPems.map((p) => new X509Certificate(p))], rootsFromPem(ca.rootPem));
      t.deepEqual(verified, { ok: true, value: spiffe('reviews') });
    });
  }
}

test('an RSA-2048 workload and an ECDSA workload complete mutual TLS with each other', async (t) => {
  const ca = await caOf(t, 'ecdsa-p256');
  const server = issue(ca, 'server', 'rsa-2048');
  const client = issue(ca, 'client', 'ecdsa-p256');
  const srv = tls.createServer({ key: server.key, cert: server.cert, ca: ca.rootPem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (s) => {
    const peer = s.getPeerX509Certificate();
    s.end(peer?.subjectAltName ?? 'none');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.teardown(() => srv.close());
  const { port } = srv.address() as AddressInfo;
  const answer = await new Promise<{ said: string; serverSan: string | undefined }>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, key: client.key, cert: client.cert, ca: ca.rootPem, checkServerIdentity: () => undefined }, () => {
      const serverSan = s.getPeerX509Certificate()?.subjectAltName;
      let said = '';
      s.on('data', (d: Buffer) => {
        said += d.toString();
      });
      s.on('end', () => resolve({ said, serverSan }));
    });
    s.on('error', reject);
  });
  t.is(answer.said, `URI:${spiffe('client')}`);
  t.is(answer.serverSan, `URI:${spiffe('server')}`);
});

function csrWithKey(privateKey: KeyObject, publicKey: KeyObject, sa: string): string {
  const der = buildCsr({
    subject: encodeName({}),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    privateKey,
    subjectAltNames: [{ type: 'uri', value: spiffe(sa) }],
  });
  return derToPem(der, 'CERTIFICATE REQUEST');
}

const WEAK_KEYS: Array<{ name: string; keys: () => { privateKey: KeyObject; publicKey: KeyObject }; refused: RegExp | undefined }> = [
  { name: 'RSA-1024', keys: () => generateKeyPairSync('rsa', { modulusLength: 1024 }), refused: /RSA-1024; RSA keys must have at least 2048 bits/ },
  { name: 'RSA-3072', keys: () => generateKeyPairSync('rsa', { modulusLength: 3072 }), refused: undefined },
  { name: 'EC P-384', keys: () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }), refused: undefined },
  { name: 'EC secp256k1', keys: () => generateKeyPairSync('ec', { namedCurve: 'secp256k1' }), refused: /curve secp256k1; accepted: P-256, P-384/ },
];

for (const row of WEAK_KEYS) {
  test(`a CSR with an ${row.name} key is ${row.refused ? 'refused' : 'signed'}`, async (t) => {
    const ca = await caOf(t, 'ecdsa-p256');
    const { privateKey, publicKey } = row.keys();
    const signed = signWorkloadCsr({
      ca,
      csrPem: csrWithKey(privateKey, publicKey, 'reviews'),
      identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' },
    });
    if (row.refused) {
      t.false(signed.ok);
      if (!signed.ok) {
        t.is(signed.errors.code, 'CSR_INVALID');
        t.regex(signed.errors.message, row.refused);
      }
    } else {
      t.true(signed.ok);
    }
  });
}
