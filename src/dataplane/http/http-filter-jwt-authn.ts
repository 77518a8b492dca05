import { createLocalJWKSet, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type { HttpFilterConfig, JwtProviderConfig } from '../../xds/config-types.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { FilterDecision, FilterRequest, FilterStatSink, HttpFilter } from './http-filter-interface.ts';
import { CONTINUE } from './http-filter-interface.ts';
import { headerValue } from './route-table.ts';

/**
 * Envoy's JWT filter (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`) in the shape
 * Istio's RequestAuthentication gives it: each provider reads its token from its headers (value
 * prefix stripped) or query parameters; a token is verified with jose against the provider's
 * inline key set, issuer and audiences (signature, `exp`/`nbf`; `alg: none` never verifies).
 * - The first provider whose token verifies wins. Its facts go to dynamic metadata:
 *   `envoy.filters.http.jwt_authn` (`{ <issuer>: payload }`) and `istio_authn`, which the RBAC
 *   filter reads (`request.auth.principal` = `<iss>/<sub>`, `request.auth.audiences`,
 *   `request.auth.presenter` = `azp`, `request.auth.claims` = the payload). Its token header is
 *   removed unless `forward`; `forward_payload_header` gets the payload (base64url JSON) and each
 *   `claim_to_headers` header its claim.
 * - No token at all: the request goes on when the rule allows a missing token (Istio: an
 *   AuthorizationPolicy requiring `requestPrincipals` then denies it); else 401 `Jwt is missing`.
 * - A token that verifies with no provider: 401 with Envoy's message (`Jwt verification fails`,
 *   `Jwt is expired`, `Audiences in Jwt are not allowed`, `Jwt issuer is not configured`) and
 *   `www-authenticate: Bearer realm="<url>", error="invalid_token"`; Envoy sets no response flag.
 * The output headers (payload and claims) are removed from every request first, so a caller
 * cannot forge them. Stats: `jwt_authn.allowed`, `jwt_authn.denied`.
 */

export const JWT_AUTHN_METADATA = 'envoy.filters.http.jwt_authn';
export const ISTIO_AUTHN_METADATA = 'istio_authn';

interface CompiledProvider {
  readonly config: JwtProviderConfig;
  readonly keys: ReturnType<typeof createLocalJWKSet>;
}

type Verified = { ok: true; provider: CompiledProvider; payload: JWTPayload; from?: string } | { ok: false; message: string };

/** Envoy's status messages, by jose's error code (and, for claim failures, the claim). */
function envoyMessage(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const claim = typeof e === 'object' && e !== null && 'claim' in e ? String((e as { claim: unknown }).claim) : '';
  if (code === 'ERR_JWT_EXPIRED') return 'Jwt is expired';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'aud') return 'Audiences in Jwt are not allowed';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'iss') return 'Jwt issuer is not configured';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && claim === 'nbf') return 'Jwt not yet valid';
  return 'Jwt verification fails';
}

function queryParam(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  const v = new URLSearchParams(path.slice(q + 1)).get(name);
  return v === null || v === '' ? undefined : v;
}

/** The token a provider finds in the request, and the header it came from (params: none). */
function tokenOf(p: JwtProviderConfig, req: FilterRequest): { token: string; header?: string } | undefined {
  for (const h of p.fromHeaders) {
    const v = headerValue(req.request, h.name);
    if (v === undefined) continue;
    if (h.prefix !== '' && !v.startsWith(h.prefix)) continue;
    const token = v.slice(h.prefix.length).trim();
    if (token !== '') return { token, header: h.name };
  }
  for (const name of p.fromParams) {
    const token = queryParam(req.request.path, name);
    if (token !== undefined) return { token };
  }
  return undefined;
}

function claimAt(payload: JWTPayload, claim: string): unknown {
  let v: unknown = payload;
  for (const key of claim.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function audiencesOf(payload: JWTPayload): string[] {
  const aud = payload.aud;
  return aud === undefined ? [] : Array.isArray(aud) ? aud : [aud];
}

async function verify(p: CompiledProvider, token: string): Promise<Verified> {
  try {
    const { payload } = await jwtVerify(token, p.keys, {
      issuer: p.config.issuer,
      ...(p.config.audiences.length > 0 ? { audience: p.config.audiences } : {}),
    });
    return { ok: true, provider: p, payload };
  } catch (e: unknown) {
    return { ok: false, message: envoyMessage(e) };
  }
}

export function createJwtAuthnFilter(config: HttpFilterConfig, stat: FilterStatSink): HttpFilter {
  const settings = config.jwtAuthn ?? { providers: [], allowMissing: true };
  const providers: CompiledProvider[] = settings.providers.map((p) => ({ config: p, keys: createLocalJWKSet(p.jwks as unknown as JSONWebKeySet) }));
  const outputHeaders = new Set(settings.providers.flatMap((p) => [...(p.forwardPayloadHeader ? [p.forwardPayloadHeader] : []), ...p.claimToHeaders.map((c) => c.header)]));
  const deny = (req: FilterRequest, message: string): FilterDecision => {
    stat('jwt_authn.denied');
    const realm = `${req.request.scheme}://${req.request.authority}${req.request.path.split('?')[0] ?? ''}`;
    return {
      kind: 'reply',
      reply: { status: 401, flag: '', body: message, headers: { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"` } },
    };
  };
  return {
    typeUrl: TYPED_CONFIG.jwtAuthn,
    everyRoute: true,
    async onRequest(req): Promise<FilterDecision> {
      const headers = req.request.headers;
      for (const h of outputHeaders) delete headers[h];
      const found = providers.flatMap((p) => {
        const t = tokenOf(p.config, req);
        return t ? [{ p, ...t }] : [];
      });
      if (found.length === 0) {
        if (!settings.allowMissing) return deny(req, 'Jwt is missing');
        stat('jwt_authn.allowed');
        return CONTINUE;
      }
      let failure = 'Jwt verification fails';
      let win: (Verified & { ok: true }) | undefined;
      for (const f of found) {
        const v = await verify(f.p, f.token);
        if (v.ok) {
          win = { ...v, ...(f.header !== undefined ? { from: f.header } : {}) };
          break;
        }
        failure = v.message;
      }
      if (!win) return deny(req, failure);
      const { payload, provider } = win;
      const p = provider.config;
      if (!p.forward && win.from !== undefined) delete headers[win.from];
      if (p.forwardPayloadHeader) headers[p.forwardPayloadHeader] = Buffer.from(JSON.stringify(payload)).toString('base64url');
      for (const c of p.claimToHeaders) {
        const v = claimAt(payload, c.claim);
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') headers[c.header] = String(v);
      }
      if (req.metadata) {
        req.metadata.set(JWT_AUTHN_METADATA, { [p.issuer]: payload });
        req.metadata.set(ISTIO_AUTHN_METADATA, {
          'request.auth.principal': `${payload.iss ?? ''}/${payload.sub ?? ''}`,
          'request.auth.audiences': audiencesOf(payload),
          ...(typeof payload['azp'] === 'string' ? { 'request.auth.presenter': payload['azp'] } : {}),
          'request.auth.claims': payload,
        });
      }
      stat('jwt_authn.allowed');
      return CONTINUE;
    },
  };
}
