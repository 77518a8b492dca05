import type { JwtRule, RequestAuthenticationConfig } from '../config/config-types.ts';
import type { HttpFilter } from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';

/**
 * Translates the RequestAuthentications of one workload into Envoy's JWT filter
 * (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`), as istiod's authn builder
 * does: one provider per `jwtRules[]` entry, named `origins-<i>` in policy (namespace/name) then
 * rule order, with the key set inlined (`local_jwks.inline_string`: the rule's `jwks`, or the
 * `jwksUri` set Pilot fetched; a set it could not fetch is inlined without keys, so no token
 * verifies, as istiod's fake JWKS); the payload goes to dynamic metadata under the issuer; one
 * rule `/` requiring any provider or a missing token (`allow_missing`): a request without a token
 * passes, one with an invalid token gets 401. Pure: same policies and key sets in, same JSON out.
 */

/** The key set inlined when a jwksUri could not be fetched: nothing verifies against it. */
export const EMPTY_JWKS = '{"keys":[]}';

type Json = Record<string, unknown>;

function provider(rule: JwtRule, jwks: ReadonlyMap<string, string | undefined>): Json {
  const keys = rule.jwks ?? (rule.jwksUri !== undefined ? jwks.get(rule.jwksUri) : undefined) ?? EMPTY_JWKS;
  return {
    issuer: rule.issuer,
    ...(rule.audiences.length > 0 ? { audiences: [...rule.audiences] } : {}),
    local_jwks: { inline_string: keys },
    ...(rule.fromHeaders !== undefined ? { from_headers: rule.fromHeaders.map((h) => ({ name: h.name, ...(h.prefix !== '' ? { value_prefix: h.prefix } : {}) })) } : {}),
    ...(rule.fromParams !== undefined ? { from_params: [...rule.fromParams] } : {}),
    ...(rule.forwardOriginalToken ? { forward: true } : {}),
    ...(rule.outputPayloadToHeader !== undefined ? { forward_payload_header: rule.outputPayloadToHeader } : {}),
    payload_in_metadata: rule.issuer,
    ...(rule.outputClaimToHeaders.length > 0 ? { claim_to_headers: rule.outputClaimToHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim })) } : {}),
  };
}

/** The HCM filter entry (before RBAC) for `policies`; none when they hold no jwtRules. */
export function jwtAuthnHttpFilters(policies: readonly RequestAuthenticationConfig[], jwks: ReadonlyMap<string, string | undefined>): HttpFilter[] {
  const rules = policies.flatMap((p) => p.spec.jwtRules);
  if (rules.length === 0) return [];
  const providers: Json = {};
  rules.forEach((r, i) => {
    providers[`origins-${i}`] = provider(r, jwks);
  });
  const requirements = [...Object.keys(providers).map((name) => ({ provider_name: name })), { allow_missing: {} }];
  return [
    {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: {
        '@type': TYPED_CONFIG.jwtAuthn,
        providers,
        rules: [{ match: { prefix: '/' }, requires: { requires_any: { requirements } } }],
      },
    },
  ];
}
