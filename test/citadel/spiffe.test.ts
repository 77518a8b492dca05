import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { formatSpiffeId, issueServingCertificate, parseSpiffeId, spiffeIdFromCertificate } from '../../src/citadel/index.ts';
import { derToPem } from '../../src/citadel/der.ts';
import { buildCertificate, encodeName, type GeneralName } from '../../src/citadel/x509-build.ts';
import { makeCa } from './fixtures.ts';

const valid: Array<[string, { trustDomain: string; namespace: string; serviceAccount: string }]> = [
  ['spiffe://cluster.local/ns/default/sa/reviews', { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' }],
  ['spiffe://east.mesh/ns/bookinfo-2/sa/sa.with.dots', { trustDomain: 'east.mesh', namespace: 'bookinfo-2', serviceAccount: 'sa.with.dots' }],
  ['spiffe://td/ns/a/sa/b', { trustDomain: 'td', namespace: 'a', serviceAccount: 'b' }],
  ['spiffe://my_domain.example-1.org/ns/x1/sa/y', { trustDomain: 'my_domain.example-1.org', namespace: 'x1', serviceAccount: 'y' }],
];

for (const [uri, identity] of valid) {
  test(`parseSpiffeId accepts ${uri}`, (t) => {
    t.deepEqual(parseSpiffeId(uri), { ok: true, value: identity });
    t.is(formatSpiffeId(identity), uri);
  });
}

const invalid: Array<[string, string]> = [
  ['', 'empty'],
  ['http://cluster.local/ns/default/sa/a', 'wrong scheme'],
  ['SPIFFE://cluster.local/ns/default/sa/a', 'uppercase scheme'],
  ['Spiffe://cluster.local/ns/default/sa/a', 'mixed-case scheme'],
  ['spiffe:/cluster.local/ns/default/sa/a', 'single slash'],
  ['spiffe://cluster.local/ns/default', 'missing sa'],
  ['spiffe://cluster.local/ns/default/sa/', 'empty sa'],
  ['spiffe://cluster.local/ns//sa/a', 'empty namespace'],
  ['spiffe:///ns/default/sa/a', 'empty trust domain'],
  ['spiffe://cluster.local/ns/default/sa/a/extra', 'extra segment'],
  ['spiffe://cluster.local/ns/default/sa/a/', 'trailing slash'],
  ['spiffe://cluster.local/sa/a/ns/default', 'segments swapped'],
  ['spiffe://cluster.local/NS/default/sa/a', 'uppercase ns key'],
  ['spiffe://cluster.local/ns/Default/sa/a', 'uppercase namespace'],
  ['spiffe://Cluster.local/ns/default/sa/a', 'uppercase trust domain'],
  ['spiffe://cluster.local:443/ns/default/sa/a', 'port'],
  ['spiffe://user@cluster.local/ns/default/sa/a', 'userinfo'],
  ['spiffe://cluster.local/ns/default/sa/a?x=1', 'query'],
  ['spiffe://cluster.local/ns/default/sa/a#frag', 'fragment'],
  ['spiffe://cluster.local/ns/default/sa/%61', 'percent-encoding'],
  ['spiffe://cluster.local/ns/def ault/sa/a', 'space'],
  ['spiffe://cluster.local/ns/../sa/a', 'dot segment as namespace'],
  ['spiffe://cluster..local/ns/default/sa/a', 'empty DNS label'],
  ['spiffe://-cluster.local/ns/default/sa/a', 'label starting with a hyphen'],
  ['spiffe://cluster.local/ns/-default/sa/a', 'namespace starting with a hyphen'],
  [`spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/a`, 'namespace longer than 63'],
  [`spiffe://${'a'.repeat(64)}.local/ns/default/sa/a`, 'trust domain label longer than 63'],
  ['spiffe://cluster.local/ns/default/sa/a\n', 'trailing newline'],
  [' spiffe://cluster.local/ns/default/sa/a', 'leading space'],
  ['spiffe://clüster.local/ns/default/sa/a', 'non-ASCII'],
];

for (const [uri, why] of invalid) {
  test(`parseSpiffeId rejects ${why}`, (t) => {
    const r = parseSpiffeId(uri);
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.length > 0);
  });
}

test('formatSpiffeId throws InvalidSpiffeIdError on a malformed part', (t) => {
  const e = t.throws(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'a/b', serviceAccount: 'x' }));
  t.is((e as { code?: string }).code, 'SPIFFE_ID_INVALID');
});

/** A CA-signed leaf with the given SANs, as PEM. */
function leafWith(ca: Awaited<ReturnType<typeof makeCa>>['ca'], sans: GeneralName[]): string {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const der = buildCertificate({
    subject: encodeName({ commonName: 'x' }),
    issuer: ca.subjectDer,
    subjectPublicKey: publicKey.export({ type: 'spki', format: 'der' }),
    issuerPublicKey: ca.publicKeyDer,
    signingKey: ca.privateKey,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    ca: false,
    subjectAltNames: sans,
  });
  return derToPem(der, 'CERTIFICATE');
}

test('spiffeIdFromCertificate requires exactly one well-formed URI SAN', async (t) => {
  const { ca } = await makeCa(t);
  const id = 'spiffe://cluster.local/ns/default/sa/reviews';
  const cases: Array<[string, GeneralName[], string | undefined]> = [
    ['one URI', [{ type: 'uri', value: id }], id],
    ['one URI plus DNS', [{ type: 'dns', value: 'reviews' }, { type: 'uri', value: id }], id],
    ['no SAN', [], undefined],
    ['DNS only', [{ type: 'dns', value: 'reviews' }], undefined],
    ['two URIs', [{ type: 'uri', value: id }, { type: 'uri', value: 'spiffe://cluster.local/ns/default/sa/other' }], undefined],
    ['malformed URI', [{ type: 'uri', value: 'spiffe://cluster.local/ns/default' }], undefined],
    ['non-spiffe URI', [{ type: 'uri', value: 'https://example.com/' }], undefined],
  ];
  for (const [name, sans, expected] of cases) {
    const r = spiffeIdFromCertificate(leafWith(ca, sans));
    if (expected === undefined) t.false(r.ok, name);
    else t.deepEqual(r, { ok: true, value: expected }, name);
  }
  t.false(spiffeIdFromCertificate('not a certificate').ok);
  const serving = issueServingCertificate({ ca, dnsNames: ['istiod.meshfed-system.svc'], spiffeId: id, ttlSeconds: 60 });
  t.deepEqual(spiffeIdFromCertificate(serving.certChainPem), { ok: true, value: id });
});
