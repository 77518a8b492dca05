import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { AuthorizationPolicyConfig, RequestAuthenticationConfig } from '../../src/pilot/config/config-types.ts';
import { jwtAuthnHttpFilters } from '../../src/pilot/generators/generator-jwt-authn.ts';
import { rbacHttpFilters } from '../../src/pilot/generators/generator-rbac.ts';
import type { HttpFilterConfig } from '../../src/xds/config-types.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { decoded } from '../xds/support/decode.ts';
import { closeHttp, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * RequestAuthentication with AuthorizationPolicy through a real sidecar pair (Citadel-issued
 * certificates, mesh mTLS h2): curl → outbound 127.180.2.1:15001 → inbound 127.180.2.2:15006,
 * whose chain runs the JWT and RBAC filters Pilot generates (through the wire and the validator)
 * → the app. The policy requires `requestPrincipals: ["*"]` and the claim `groups` to hold
 * `admin`. Tokens are signed with jose; the key set is inline, as Pilot inlines a fetched one.
 * One pair serves every row (the config is the same); each row's decision is read from curl.
 */
const CLIENT = '127.180.2.1';
const SERVER = '127.180.2.2';
const ISSUER = 'https://issuer.example';
const run = promisify(execFile);

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}
const seen: Seen[] = [];
let app: http.Server;
let pair: SidecarPair | undefined;
let sign: (claims: JWTPayload, opts?: { exp?: string | number; key?: 'other' }) => Promise<string>;

function filtersFor(yaml: string): HttpFilterConfig[] {
  const r = parseConfigText(yaml, 'authn.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  const ras = r.value.filter((o): o is RequestAuthenticationConfig => o.kind === 'RequestAuthentication');
  const aps = r.value.filter((o): o is AuthorizationPolicyConfig => o.kind === 'AuthorizationPolicy');
  const hcm = decoded({
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'inbound',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [...jwtAuthnHttpFilters(ras, new Map()), ...rbacHttpFilters(aps), { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
  }) as Record<string, unknown>;
  const issues = new Issues();
  const out = httpFilterList(hcm, 'hcm', issues);
  if (!issues.ok) throw new Error(issues.errors.join('\n'));
  return out;
}

test.before(async () => {
  const mine = await generateKeyPair('ES256');
  const other = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(mine.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  sign = async (claims, opts = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? '10m')
      .sign(opts.key === 'other' ? other.privateKey : mine.privateKey);
  const yaml = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  jwtRules:
  - issuer: ${ISSUER}
    audiences: [orders]
    jwks: '${JSON.stringify({ keys: [jwk] })}'
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders:
    - {header: x-jwt-sub, claim: sub}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: default}
spec:
  rules:
  - from:
    - source: {requestPrincipals: ["*"]}
    when:
    - key: request.auth.claims[groups]
      values: [admin]
`;
  app = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    res.end('ok');
  });
  const appPort = await listenOn(app, SERVER);
  pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'orders', appPort, inboundFilters: filtersFor(yaml) });
  host = `orders:${appPort}`;
});
let host = '';
test.after.always(async () => {
  await pair?.close();
  if (app) await closeHttp(app);
});

const GOOD = { sub: 'alice', aud: 'orders', iss: ISSUER, groups: ['admin', 'dev'] };

const ROWS: {
  name: string;
  token: () => Promise<string | undefined>;
  where?: 'header' | 'param';
  status: number;
  body?: string;
}[] = [
  { name: 'a valid token in Authorization: Bearer is allowed', token: () => sign(GOOD), status: 200 },
  { name: 'a valid token in the access_token parameter is allowed', token: () => sign(GOOD), where: 'param', status: 200 },
  { name: 'no token: the JWT filter lets it on, and requestPrincipals ["*"] denies it', token: async () => undefined, status: 403, body: 'RBAC: access denied' },
  { name: 'a valid token without the admin group is denied by the claims condition', token: () => sign({ ...GOOD, groups: ['dev'] }), status: 403, body: 'RBAC: access denied' },
  { name: 'an expired token gets 401', token: () => sign(GOOD, { exp: Math.floor(Date.now() / 1000) - 600 }), status: 401, body: 'Jwt is expired' },
  { name: 'a token of another issuer gets 401', token: () => sign({ ...GOOD, iss: 'https://evil.example' }), status: 401, body: 'Jwt issuer is not configured' },
  { name: 'a token for another audience gets 401', token: () => sign({ ...GOOD, aud: 'payments' }), status: 401, body: 'Audiences in Jwt are not allowed' },
  { name: 'a token signed with another key gets 401', token: () => sign(GOOD, { key: 'other' }), status: 401, body: 'Jwt verification fails' },
  { name: 'an alg none token gets 401', token: async () => new UnsecuredJWT(GOOD).setIssuedAt().setExpirationTime('10m').encode(), status: 401, body: 'Jwt verification fails' },
  { name: 'garbage gets 401', token: async () => 'not.a.jwt', status: 401, body: 'Jwt verification fails' },
];

for (const row of ROWS) {
  test.serial(row.name, async (t) => {
    const token = await row.token();
    const before = seen.length;
    const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-H', `Host: ${host}`, '-H', 'x-jwt-sub: forged'];
    let path = '/orders';
    if (token !== undefined && row.where === 'param') path += `?access_token=${token}`;
    else if (token !== undefined) args.push('-H', `Authorization: Bearer ${token}`);
    const { stdout } = await run('curl', [...args, `http://${CLIENT}:15001${path}`]);
    const lines = stdout.trimEnd().split('\n');
    const status = Number(lines.pop());
    t.is(status, row.status, lines.join('\n'));
    if (row.status !== 200) {
      t.is(lines.join('\n').trim(), row.body ?? '');
      t.is(seen.length, before, 'a refused request never reaches the app');
      return;
    }
    const got = seen.at(-1);
    t.is(got?.headers['authorization'], undefined, 'the token header is not forwarded (forwardOriginalToken false)');
    t.is(got?.headers['x-jwt-sub'], 'alice', 'the claim header is the verified claim, never the caller\'s');
    const payload = JSON.parse(Buffer.from(String(got?.headers['x-jwt-payload']), 'base64url').toString()) as JWTPayload;
    t.is(payload.sub, 'alice');
    t.deepEqual(payload['groups'], ['admin', 'dev']);
  });
}

test.serial('the 401 carries www-authenticate, and jwt_authn counts allowed and denied', async (t) => {
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', `Host: ${host}`, '-H', 'Authorization: Bearer not.a.jwt', `http://${CLIENT}:15001/orders`]);
  t.regex(stdout, /^www-authenticate: Bearer realm="[^"]*\/orders", error="invalid_token"/im);
  const stats = await (await fetch(`${pair?.server.urls.metrics}/stats/prometheus`)).text();
  t.regex(stats, /envoy_jwt_authn_allowed\S* [1-9]/);
  t.regex(stats, /envoy_jwt_authn_denied\S* [1-9]/);
});
