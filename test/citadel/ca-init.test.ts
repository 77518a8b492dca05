import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { initCa, loadCa, signWorkloadCsr } from '../../src/citadel/index.ts';
import { derToPem } from '../../src/citadel/der.ts';
import { buildCsr, encodeName } from '../../src/citadel/x509-build.ts';
import { TRUST_DOMAIN, tempDir } from './fixtures.ts';

const run = promisify(execFile);
const YEAR_MS = 365 * 24 * 3600 * 1000;

function csrFor(uri: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = buildCsr({
    subject: encodeName({}),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }),
    privateKey,
    subjectAltNames: [{ type: 'uri', value: uri }],
  });
  return derToPem(der, 'CERTIFICATE REQUEST');
}

test('initCa writes the plug-in layout with one shared root', async (t) => {
  const dir = await tempDir(t);
  const now = new Date('2030-01-01T00:00:00Z');
  await initCa({ dir, clusters: ['east', 'west'], trustDomain: TRUST_DOMAIN, now });
  t.is((await stat(path.join(dir, 'root-key.pem'))).mode & 0o777, 0o600);
  const root = new X509Certificate(await readFile(path.join(dir, 'root-cert.pem')));
  t.true(root.ca);
  t.true(root.checkIssued(root));
  t.is(Date.parse(root.validTo) - now.getTime(), 10 * YEAR_MS);
  for (const cluster of ['east', 'west']) {
    const clusterDir = path.join(dir, cluster);
    t.is((await stat(path.join(clusterDir, 'ca-key.pem'))).mode & 0o777, 0o600);
    const inter = new X509Certificate(await readFile(path.join(clusterDir, 'ca-cert.pem')));
    t.true(inter.ca, cluster);
    t.true(inter.checkIssued(root) && inter.verify(root.publicKey), cluster);
    t.is(Date.parse(inter.validTo) - now.getTime(), 5 * YEAR_MS);
    t.deepEqual(await readFile(path.join(clusterDir, 'root-cert.pem')), await readFile(path.join(dir, 'root-cert.pem')));
    const chain = await readFile(path.join(clusterDir, 'cert-chain.pem'), 'utf8');
    t.is(chain.match(/BEGIN CERTIFICATE/g)?.length, 2);
    const text = (await run('openssl', ['x509', '-in', path.join(clusterDir, 'ca-cert.pem'), '-noout', '-text'])).stdout;
    t.regex(text, /CA:TRUE, pathlen:0/);
    t.regex(text, /Certificate Sign/);
    const ca = await loadCa(clusterDir);
    t.deepEqual(ca.chainPems.length, 1);
  }
  const east = new X509Certificate(await readFile(path.join(dir, 'east/ca-cert.pem')));
  const west = new X509Certificate(await readFile(path.join(dir, 'west/ca-cert.pem')));
  t.not(east.fingerprint256, west.fingerprint256);
  t.not(east.publicKey.export({ format: 'jwk' }).x, west.publicKey.export({ format: 'jwk' }).x);
});

test('initCa is idempotent: reuses the root, keeps clusters, adds missing ones', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: ['east'], trustDomain: TRUST_DOMAIN });
  const rootBefore = await readFile(path.join(dir, 'root-cert.pem'), 'utf8');
  const eastBefore = await readFile(path.join(dir, 'east/ca-cert.pem'), 'utf8');
  await initCa({ dir, clusters: ['east', 'west'], trustDomain: TRUST_DOMAIN });
  t.is(await readFile(path.join(dir, 'root-cert.pem'), 'utf8'), rootBefore);
  t.is(await readFile(path.join(dir, 'east/ca-cert.pem'), 'utf8'), eastBefore);
  const west = await loadCa(path.join(dir, 'west'));
  t.true(west.root.raw.equals(new X509Certificate(rootBefore).raw));
});

test('initCa refuses a cluster folder made under another root', async (t) => {
  const a = await tempDir(t);
  const b = await tempDir(t);
  await initCa({ dir: a, clusters: ['east'], trustDomain: TRUST_DOMAIN });
  await initCa({ dir: b, clusters: ['west'], trustDomain: TRUST_DOMAIN });
  // Replace b's root with a's: b/west now belongs to a different root.
  await writeFile(path.join(b, 'root-cert.pem'), await readFile(path.join(a, 'root-cert.pem')));
  await writeFile(path.join(b, 'root-key.pem'), await readFile(path.join(a, 'root-key.pem')));
  const e = await t.throwsAsync(initCa({ dir: b, clusters: ['west'], trustDomain: TRUST_DOMAIN }));
  t.is((e as { code?: string }).code, 'CA_MATERIAL_INVALID');
});

test('initCa rejects a cluster name that is not a DNS label', async (t) => {
  const dir = await tempDir(t);
  const e = await t.throwsAsync(initCa({ dir, clusters: ['../escape'], trustDomain: TRUST_DOMAIN }));
  t.is((e as { code?: string }).code, 'CA_MATERIAL_INVALID');
});

test('loadCa rejects a key that does not match the certificate', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: ['east', 'west'], trustDomain: TRUST_DOMAIN });
  await writeFile(path.join(dir, 'east/ca-key.pem'), await readFile(path.join(dir, 'west/ca-key.pem')));
  const e = await t.throwsAsync(loadCa(path.join(dir, 'east')));
  t.is((e as { code?: string }).code, 'CA_MATERIAL_INVALID');
});

test('openssl verify accepts leaves of both clusters against the shared root', async (t) => {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: ['east', 'west'], trustDomain: TRUST_DOMAIN });
  for (const cluster of ['east', 'west']) {
    const ca = await loadCa(path.join(dir, cluster));
    const signed = signWorkloadCsr({
      ca,
      csrPem: csrFor('spiffe://cluster.local/ns/default/sa/reviews'),
      identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' },
    });
    if (!signed.ok) return t.fail(signed.errors.message);
    const [leaf, inter] = signed.value.certChainPem;
    await writeFile(path.join(dir, `${cluster}-leaf.pem`), leaf!);
    await writeFile(path.join(dir, `${cluster}-chain.pem`), inter!);
    const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'root-cert.pem')];
    const out = await run('openssl', [...args, '-untrusted', path.join(dir, `${cluster}-chain.pem`), path.join(dir, `${cluster}-leaf.pem`)]);
    t.regex(out.stdout, /: OK/);
    // Without the intermediate the leaf does not verify: the check can fail.
    await t.throwsAsync(run('openssl', [...args, path.join(dir, `${cluster}-leaf.pem`)]));
  }
});
