import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import test from 'ava';
import { type CaMaterial, rootsFromPem, sameRoot, verifyPeerChain } from '../../src/citadel/index.ts';
import { derToPem, OID } from '../../src/citadel/der.ts';
import { buildCertificate, encodeName, type GeneralName } from '../../src/citadel/x509-build.ts';
import { makeCa } from './fixtures.ts';

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const HOUR = 3600_000;

interface LeafSpec {
  sans?: GeneralName[];
  eku?: string[];
  ca?: boolean;
  notBefore?: number;
  notAfter?: number;
}

function leaf(ca: CaMaterial, spec: LeafSpec = {}): X509Certificate {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const der = buildCertificate({
    subject: encodeName({}),
    issuer: ca.subjectDer,
    subjectPublicKey: publicKey.export({ type: 'spki', format: 'der' }),
    issuerPublicKey: ca.publicKeyDer,
    signingKey: ca.privateKey,
    notBefore: new Date(spec.notBefore ?? now - 60_000),
    notAfter: new Date(spec.notAfter ?? now + HOUR),
    ca: spec.ca ?? false,
    extKeyUsage: spec.eku ?? [OID.serverAuth, OID.clientAuth],
    subjectAltNames: spec.sans ?? [{ type: 'uri', value: ID }],
  });
  return new X509Certificate(der);
}

test('verifyPeerChain accepts only well-formed chains to a trusted root', async (t) => {
  const { ca } = await makeCa(t, ['east', 'west']);
  const foreign = (await makeCa(t)).ca;
  const roots = [ca.root];
  const inter = ca.cert;
  const now = Date.now();
  const cases: Array<[string, () => ReturnType<typeof verifyPeerChain>, string | undefined]> = [
    ['leaf + intermediate', () => verifyPeerChain([leaf(ca), inter], roots), ID],
    ['leaf + intermediate + root', () => verifyPeerChain([leaf(ca), inter, ca.root], roots), ID],
    ['PEM text', () => verifyPeerChain(derToPem(leaf(ca).raw, 'CERTIFICATE') + ca.chainPems.join(''), roots), ID],
    ['usage client on a dual-use leaf', () => verifyPeerChain([leaf(ca), inter], roots, { usage: 'client' }), ID],
    ['leaf without its intermediate', () => verifyPeerChain([leaf(ca)], roots), undefined],
    ['a chain from another root', () => verifyPeerChain([leaf(foreign), foreign.cert], roots), undefined],
    ['foreign leaf with our intermediate', () => verifyPeerChain([leaf(foreign), inter], roots), undefined],
    ['an empty chain', () => verifyPeerChain([], roots), undefined],
    ['an expired leaf', () => verifyPeerChain([leaf(ca, { notBefore: now - 2 * HOUR, notAfter: now - HOUR })], roots), undefined],
    ['a not-yet-valid leaf', () => verifyPeerChain([leaf(ca, { notBefore: now + HOUR, notAfter: now + 2 * HOUR }), inter], roots), undefined],
    ['checked in the future', () => verifyPeerChain([leaf(ca), inter], roots, { now: new Date(now + 2 * HOUR) }), undefined],
    ['a CA certificate as leaf', () => verifyPeerChain([leaf(ca, { ca: true }), inter], roots), undefined],
    ['a leaf without EKU', () => verifyPeerChain([leaf(ca, { eku: [] }), inter], roots), undefined],
    ['a server-only leaf used as client', () => verifyPeerChain([leaf(ca, { eku: [OID.serverAuth] }), inter], roots, { usage: 'client' }), undefined],
    ['two URI SANs', () => verifyPeerChain([leaf(ca, { sans: [{ type: 'uri', value: ID }, { type: 'uri', value: `${ID}x` }] }), inter], roots), undefined],
    ['a malformed SPIFFE ID', () => verifyPeerChain([leaf(ca, { sans: [{ type: 'uri', value: 'spiffe://cluster.local/x' }] }), inter], roots), undefined],
    ['no SAN', () => verifyPeerChain([leaf(ca, { sans: [] }), inter], roots), undefined],
    ['no roots at all', () => verifyPeerChain([leaf(ca), inter], []), undefined],
  ];
  for (const [name, run, expected] of cases) {
    const r = run();
    if (expected === undefined) t.false(r.ok, name);
    else t.deepEqual(r, { ok: true, value: expected }, name);
  }
});

test('rootsFromPem and sameRoot', async (t) => {
  const a = await makeCa(t, ['east', 'west']);
  const b = await makeCa(t);
  const bundle = rootsFromPem(a.ca.rootPem + b.ca.rootPem);
  t.is(bundle.length, 2);
  t.true(sameRoot(bundle[0]!, a.ca.root));
  t.true(sameRoot(a.ca.rootPem, a.ca.root));
  t.false(sameRoot(bundle[1]!, a.ca.root));
  t.false(sameRoot(a.ca.cert, a.ca.root));
  t.deepEqual(rootsFromPem('no certificates here'), []);
});
