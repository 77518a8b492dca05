import test from 'ava';
import { EMPTY_JWKS } from '../../src/pilot/generators/generator-jwt-authn.ts';
import type { HttpFilterChain } from '../../src/xds/config-types.ts';
import { validateListener } from '../../src/xds/index.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { decoded } from '../xds/support/decode.ts';
import { listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * Pilot's JWT filter for RequestAuthentication: on the selected workload's inbound chains, before
 * RBAC; key sets inline (a jwksUri's as Pilot fetched it, or empty while unfetched); read back
 * through the wire and the sidecar's validator, which NACKs what the filter cannot do.
 */

const RA = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
  jwtRules:
  - issuer: https://a.example
    jwksUri: https://a.example/jwks.json
  - issuer: https://b.example
    jwks: '{"keys":[]}'
    fromHeaders: [{name: x-token}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-trace, namespace: default}
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: [TRACE]}
`;

function inboundChain(jwks: Map<string, string | undefined>, labels: Record<string, string>): HttpFilterChain {
  const b = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080, { labels }).yaml(RA);
  const snap = { ...b.build(), jwks };
  const l = listenersOf(proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.1', labels }), snap).get('virtualInbound');
  const v = validateListener(decoded(l as object));
  if (!v.ok) throw new Error(v.errors.join('\n'));
  const chain = v.value.filterChains.find((c): c is HttpFilterChain => c.kind === 'http');
  if (!chain) throw new Error('no http chain');
  return chain;
}

test('the JWT filter runs before RBAC, with one provider per rule and a missing token allowed', (t) => {
  const chain = inboundChain(new Map([['https://a.example/jwks.json', '{"keys":[{"kty":"EC"}]}']]), { app: 'reviews' });
  t.deepEqual(chain.httpFilters.map((f) => f.typeUrl), [TYPED_CONFIG.jwtAuthn, TYPED_CONFIG.rbac]);
  const jwt = chain.httpFilters[0]?.jwtAuthn;
  t.is(jwt?.allowMissing, true);
  t.deepEqual(jwt?.providers.map((p) => [p.name, p.issuer, p.jwks.keys.length]), [
    ['origins-0', 'https://a.example', 1],
    ['origins-1', 'https://b.example', 0],
  ]);
  t.deepEqual(jwt?.providers[0]?.fromHeaders, [{ name: 'authorization', prefix: 'Bearer ' }], "Envoy's default locations");
  t.deepEqual(jwt?.providers[0]?.fromParams, ['access_token']);
  t.deepEqual(jwt?.providers[1]?.fromHeaders, [{ name: 'x-token', prefix: '' }]);
  t.deepEqual(jwt?.providers[1]?.fromParams, []);
});

test('an unfetched jwksUri is inlined without keys, so nothing verifies', (t) => {
  const chain = inboundChain(new Map(), { app: 'reviews' });
  t.deepEqual(chain.httpFilters[0]?.jwtAuthn?.providers[0]?.jwks, JSON.parse(EMPTY_JWKS));
});

test('a workload the selector does not pick gets no JWT filter', (t) => {
  const chain = inboundChain(new Map(), { app: 'ratings' });
  t.deepEqual(chain.httpFilters.map((f) => f.typeUrl), [TYPED_CONFIG.rbac]);
});

const PROVIDER = { issuer: 'i', local_jwks: { inline_string: '{"keys":[]}' } };
const RULES = [{ match: { prefix: '/' }, requires: { requires_any: { requirements: [{ provider_name: 'p' }, { allow_missing: {} }] } } }];
const NACKS: { name: string; config: Record<string, unknown>; error: string }[] = [
  { name: 'remote_jwks', config: { providers: { p: { issuer: 'i', remote_jwks: { http_uri: { uri: 'https://x', cluster: 'c', timeout: { seconds: 1 } } } } }, rules: RULES }, error: 'hcm.http_filters[0].typed_config.providers.p.remote_jwks: unsupported field' },
  { name: 'a rule on another path', config: { providers: { p: PROVIDER }, rules: [{ ...RULES[0], match: { prefix: '/api' } }] }, error: 'hcm.http_filters[0].typed_config.rules[0].match: only { prefix: "/" } is supported' },
  { name: 'a provider no rule requires', config: { providers: { p: PROVIDER, q: PROVIDER }, rules: RULES }, error: 'hcm.http_filters[0].typed_config.rules[0].requires: every provider must be required' },
  { name: 'an unknown provider name', config: { providers: { p: PROVIDER }, rules: [{ match: { prefix: '/' }, requires: { provider_name: 'z' } }] }, error: 'hcm.http_filters[0].typed_config.rules[0].requires: unknown provider "z"' },
  { name: 'payload_in_metadata other than the issuer', config: { providers: { p: { ...PROVIDER, payload_in_metadata: 'x' } }, rules: RULES }, error: 'hcm.http_filters[0].typed_config.providers.p.payload_in_metadata: must be the issuer' },
  { name: 'a key set that is not one', config: { providers: { p: { issuer: 'i', local_jwks: { inline_string: '[]' } } }, rules: RULES }, error: 'hcm.http_filters[0].typed_config.providers.p.local_jwks.inline_string: not a JSON Web Key Set' },
  { name: 'from_cookies', config: { providers: { p: { ...PROVIDER, from_cookies: ['s'] } }, rules: RULES }, error: 'hcm.http_filters[0].typed_config.providers.p.from_cookies: unsupported field' },
  { name: 'two rules', config: { providers: { p: PROVIDER }, rules: [...RULES, ...RULES] }, error: 'hcm.http_filters[0].typed_config.rules: exactly one rule' },
];

for (const row of NACKS) {
  test(`NACK: ${row.name}`, (t) => {
    const hcm = decoded({
      '@type': TYPED_CONFIG.httpConnectionManager,
      stat_prefix: 'x',
      rds: { route_config_name: 'x', config_source: { ads: {} } },
      http_filters: [
        { name: 'envoy.filters.http.jwt_authn', typed_config: { '@type': TYPED_CONFIG.jwtAuthn, ...row.config } },
        { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } },
      ],
    }) as Record<string, unknown>;
    const issues = new Issues();
    httpFilterList(hcm, 'hcm', issues);
    t.false(issues.ok);
    t.true(issues.errors.some((e) => e.startsWith(row.error)), issues.errors.join('\n'));
  });
}
