import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { type CaMaterial, issueServingCertificate, signWorkloadCsr, type WorkloadIdentity } from '../../src/citadel/index.ts';
import { derToPem, OID } from '../../src/citadel/der.ts';
import { buildCsr, encodeName, type GeneralName } from '../../src/citadel/x509-build.ts';
import { readCertificate } from '../../src/citadel/x509-read.ts';
import { makeCa, TRUST_DOMAIN, tempDir } from './fixtures.ts';

const run = promisify(execFile);
const caller: WorkloadIdentity = { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' };
const callerId = 'spiffe://cluster.local/ns/default/sa/reviews';
const HOUR = 3600_000;

function csr(sans: GeneralName[], subject = encodeName({})): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return derToPem(
    buildCsr({ subject, publicKey: publicKey.export({ type: 'spki', format: 'der' }), privateKey, subjectAltNames: sans }),
    'CERTIFICATE REQUEST',
  );
}

function tamper(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
  return derToPem(der, 'CERTIFICATE REQUEST');
}

let shared: Promise<CaMaterial> | undefined;
function ca(t: Parameters<typeof makeCa>[0]): Promise<CaMaterial> {
  shared ??= makeCa(t).then((m) => m.ca);
  return shared;
}

const csrCases: Array<[string, () => string, string | undefined]> = [
  ['no SAN', () => csr([]), undefined],
  ['exactly the caller SPIFFE ID', () => csr([{ type: 'uri', value: callerId }]), undefined],
  ['a subject CN but no SAN', () => csr([], encodeName({ commonName: 'anything' })), undefined],
  ['another service account', () => csr([{ type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/ratings' }]), 'IDENTITY_MISMATCH'],
  ['another trust domain', () => csr([{ type: 'uri', value: 'spiffe://other.local/ns/default/sa/reviews' }]), 'IDENTITY_MISMATCH'],
  ['a DNS SAN', () => csr([{ type: 'dns', value: 'reviews.default.svc' }]), 'IDENTITY_MISMATCH'],
  ['an IP SAN', () => csr([{ type: 'ip', value: '127.0.0.1' }]), 'IDENTITY_MISMATCH'],
  ['the caller plus another URI', () => csr([{ type: 'uri', value: callerId }, { type: 'uri', value: 'spiffe://cluster.local/ns/x/sa/y' }]), 'IDENTITY_MISMATCH'],
  ['garbage text', () => 'hello', 'CSR_INVALID'],
  ['garbage inside PEM armour', () => derToPem(Buffer.from('not a csr at all'), 'CERTIFICATE REQUEST'), 'CSR_INVALID'],
  ['a broken self-signature', () => tamper(csr([{ type: 'uri', value: callerId }])), 'CSR_INVALID'],
  ['two CSRs', () => csr([]) + csr([]), 'CSR_INVALID'],
];

for (const [name, make, code] of csrCases) {
  test(`signWorkloadCsr with a CSR carrying ${name} → ${code ?? 'issued'}`, async (t) => {
    const r = signWorkloadCsr({ ca: await ca(t), csrPem: make(), identity: caller });
    if (code === undefined) {
      t.true(r.ok);
      if (r.ok) {
        t.is(r.value.certChainPem.length, 3);
        const facts = readCertificate(new X509Certificate(r.value.certChainPem[0]!).raw);
        t.deepEqual(facts.ok && facts.value.subjectAltNames, [{ type: 'uri', value: callerId }]);
      }
    } else {
      t.false(r.ok);
      if (!r.ok) t.is(r.errors.code, code);
    }
  });
}

const ttlCases: Array<[string, number | undefined, number | string]> = [
  ['default', undefined, 24 * HOUR],
  ['zero means default', 0, 24 * HOUR],
  ['one hour', 3600, HOUR],
  ['four seconds', 4, 4000],
  ['48 h is capped to 24 h', 48 * 3600, 24 * HOUR],
  ['negative', -5, 'VALIDITY_INVALID'],
  ['fractional', 1.5, 'VALIDITY_INVALID'],
  ['NaN', Number.NaN, 'VALIDITY_INVALID'],
];

for (const [name, ttlSeconds, expected] of ttlCases) {
  test(`signWorkloadCsr validity: ${name}`, async (t) => {
    const now = new Date('2026-06-01T12:00:00Z');
    const r = signWorkloadCsr({ ca: await ca(t), csrPem: csr([]), identity: caller, ttlSeconds, now });
    if (typeof expected === 'string') {
      t.false(r.ok);
      if (!r.ok) t.is(r.errors.code, expected);
      return;
    }
    if (!r.ok) return t.fail(r.errors.message);
    const leaf = new X509Certificate(r.value.certChainPem[0]!);
    t.is(Date.parse(leaf.validTo) - now.getTime(), expected);
    t.is(now.getTime() - Date.parse(leaf.validFrom), 60_000, 'notBefore backdated by one minute');
  });
}

test('issued leaf: only the caller SPIFFE ID, EKUs, key usage, not a CA, chain [leaf, intermediate, root]', async (t) => {
  const material = await ca(t);
  const r = signWorkloadCsr({ ca: material, csrPem: csr([]), identity: caller });
  if (!r.ok) return t.fail(r.errors.message);
  const [leafPem, interPem, rootPem] = r.value.certChainPem;
  const leaf = new X509Certificate(leafPem!);
  const inter = new X509Certificate(interPem!);
  const root = new X509Certificate(rootPem!);
  t.true(inter.raw.equals(material.cert.raw));
  t.true(root.raw.equals(material.root.raw));
  t.true(leaf.checkIssued(inter) && leaf.verify(inter.publicKey));
  const facts = readCertificate(leaf.raw);
  if (!facts.ok) return t.fail();
  t.deepEqual(facts.value.subjectAltNames, [{ type: 'uri', value: callerId }]);
  t.deepEqual(facts.value.extKeyUsage, [OID.serverAuth, OID.clientAuth]);
  t.false(facts.value.isCa);
  t.false(leaf.ca);
  t.falsy(leaf.subject, 'empty subject');
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'leaf.pem'), leafPem!);
  const dump = (await run('openssl', ['x509', '-in', path.join(dir, 'leaf.pem'), '-noout', '-text'])).stdout;
  t.regex(dump, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
  t.regex(dump, /CA:FALSE/);
  t.regex(dump, /Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews\s/);
  const again = signWorkloadCsr({ ca: material, csrPem: csr([]), identity: caller });
  if (!again.ok) return t.fail();
  t.not(new X509Certificate(again.value.certChainPem[0]!).serialNumber, leaf.serialNumber, 'serials are random');
});

test('signWorkloadCsr accepts CSRs made by openssl (EC and RSA keys)', async (t) => {
  const material = await ca(t);
  const dir = await tempDir(t);
  const makers: Array<[string, string[]]> = [
    ['ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['rsa', ['-newkey', 'rsa:2048']],
  ];
  for (const [name, keyArgs] of makers) {
    const out = path.join(dir, `${name}.csr`);
    await run('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', path.join(dir, `${name}.key`), '-subj', '/O=test', '-addext', `subjectAltName=URI:${callerId}`, '-out', out]);
    const r = signWorkloadCsr({ ca: material, csrPem: await readFile(out, 'utf8'), identity: caller });
    t.true(r.ok, name);
    const wrong = signWorkloadCsr({ ca: material, csrPem: await readFile(out, 'utf8'), identity: { ...caller, serviceAccount: 'ratings' } });
    t.false(wrong.ok, `${name}: same CSR for another caller`);
  }
});

test('issueServingCertificate gives a TLS key and chain with DNS and IP SANs', async (t) => {
  const material = await ca(t);
  const s = issueServingCertificate({ ca: material, dnsNames: ['istiod.meshfed-system.svc'], ipAddresses: ['127.0.0.1', '::1'], ttlSeconds: 3600 });
  const leaf = new X509Certificate(s.certChainPem);
  t.is(leaf.checkHost('istiod.meshfed-system.svc'), 'istiod.meshfed-system.svc');
  t.is(leaf.checkIP('127.0.0.1'), '127.0.0.1');
  t.is(leaf.checkIP('::1'), '::1');
  t.is(leaf.checkHost('other.svc'), undefined);
  t.true(leaf.checkPrivateKey(createPrivateKey(s.privateKeyPem)));
  t.is(s.certChainPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
});
