import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { RequestAuthenticationConfig } from '../../src/pilot/config/config-types.ts';

/** RequestAuthentication parsing: what is read, and what is refused with its path. Pure. */

const RA = (spec: string): string => `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: default}\nspec:\n${spec}\n`;
const JWKS = `'{"keys":[]}'`;

test('a full rule is read, header names lower-cased, defaults filled', (t) => {
  const r = parseConfigText(
    RA(`  selector: {matchLabels: {app: orders}}
  jwtRules:
  - issuer: https://issuer.example
    audiences: [orders]
    jwksUri: https://issuer.example/jwks.json
    fromHeaders: [{name: X-Token, prefix: "Token "}]
    fromParams: [tok]
    outputPayloadToHeader: X-Payload
    forwardOriginalToken: true
    outputClaimToHeaders: [{header: X-Sub, claim: sub}]`),
    'ra.yaml',
  );
  t.true(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
  if (!r.ok) return;
  const ra = r.value[0] as RequestAuthenticationConfig;
  t.deepEqual(ra.spec.selector, { matchLabels: { app: 'orders' } });
  t.deepEqual(ra.spec.jwtRules[0], {
    issuer: 'https://issuer.example',
    audiences: ['orders'],
    jwksUri: 'https://issuer.example/jwks.json',
    fromHeaders: [{ name: 'x-token', prefix: 'Token ' }],
    fromParams: ['tok'],
    outputPayloadToHeader: 'x-payload',
    forwardOriginalToken: true,
    outputClaimToHeaders: [{ header: 'x-sub', claim: 'sub' }],
  });
});

test('v1beta1 and an empty spec are accepted', (t) => {
  const r = parseConfigText(RA('  {}').replace('security.istio.io/v1', 'security.istio.io/v1beta1'), 'ra.yaml');
  t.true(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
});

const BAD: { name: string; spec: string; path: string; code: string }[] = [
  { name: 'issuer missing', spec: `  jwtRules:\n  - jwks: ${JWKS}`, path: 'spec.jwtRules[0].issuer', code: 'CONFIG_INVALID' },
  { name: 'neither jwks nor jwksUri (OpenID discovery)', spec: '  jwtRules:\n  - issuer: a', path: 'spec.jwtRules[0].jwksUri', code: 'CONFIG_UNSUPPORTED' },
  { name: 'both jwks and jwksUri', spec: `  jwtRules:\n  - issuer: a\n    jwks: ${JWKS}\n    jwksUri: https://a/j`, path: 'spec.jwtRules[0].jwksUri', code: 'CONFIG_INVALID' },
  { name: 'jwks not a key set', spec: `  jwtRules:\n  - issuer: a\n    jwks: '{"k":1}'`, path: 'spec.jwtRules[0].jwks', code: 'CONFIG_INVALID' },
  { name: 'jwksUri not http(s)', spec: '  jwtRules:\n  - issuer: a\n    jwksUri: file:///etc/jwks', path: 'spec.jwtRules[0].jwksUri', code: 'CONFIG_INVALID' },
  { name: 'fromCookies', spec: `  jwtRules:\n  - issuer: a\n    jwks: ${JWKS}\n    fromCookies: [session]`, path: 'spec.jwtRules[0].fromCookies', code: 'CONFIG_UNSUPPORTED' },
  { name: 'timeout', spec: `  jwtRules:\n  - issuer: a\n    jwks: ${JWKS}\n    timeout: 5s`, path: 'spec.jwtRules[0].timeout', code: 'CONFIG_UNSUPPORTED' },
  { name: 'targetRef', spec: '  targetRef: {kind: Gateway, name: gw}', path: 'spec.targetRef', code: 'CONFIG_UNSUPPORTED' },
  { name: 'a bad header name', spec: `  jwtRules:\n  - issuer: a\n    jwks: ${JWKS}\n    outputPayloadToHeader: "x bad"`, path: 'spec.jwtRules[0].outputPayloadToHeader', code: 'CONFIG_INVALID' },
  { name: 'an unknown field', spec: `  jwtRules:\n  - issuer: a\n    jwks: ${JWKS}\n    jwksRefresh: 1m`, path: 'spec.jwtRules[0].jwksRefresh', code: 'CONFIG_INVALID' },
];

for (const row of BAD) {
  test(`refused: ${row.name}`, (t) => {
    const r = parseConfigText(RA(row.spec), 'ra.yaml');
    t.false(r.ok);
    if (r.ok) return;
    const e = r.errors.find((x) => x.path === row.path);
    t.truthy(e, r.errors.map(String).join('\n'));
    t.is(String(e?.code), row.code);
  });
}
