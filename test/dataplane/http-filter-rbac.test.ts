import test from 'ava';
import type { IncomingHttpHeaders } from 'node:http';
import { createRbacFilter } from '../../src/dataplane/http/http-filter-rbac.ts';
import type { ConnectionFacts, FilterRequest, HttpFilter } from '../../src/dataplane/http/http-filter-interface.ts';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { AuthorizationPolicyConfig } from '../../src/pilot/config/config-types.ts';
import { rbacHttpFilters } from '../../src/pilot/generators/generator-rbac.ts';
import type { RouteConfig } from '../../src/xds/config-types.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from '../xds/support/decode.ts';

/**
 * AuthorizationPolicy end to end without sockets: YAML → parse → Pilot's RBAC generator → the
 * wire (encoded and decoded with Envoy's protos, as a sidecar receives it) → the sidecar's
 * validator → the RBAC filter, deciding on request rows. Each row names the policies, a request
 * and the status Istio gives it.
 */

const PEER: ConnectionFacts = {
  principal: 'cluster.local/ns/default/sa/caller',
  namespace: 'default',
  sourceIp: '127.160.0.2',
  remoteIp: '127.160.0.2',
  destinationIp: '127.160.0.3',
  destinationPort: 8080,
  sni: 'outbound_.8080_._.reviews.default.svc.cluster.local',
};

function policies(yaml: string): AuthorizationPolicyConfig[] {
  const r = parseConfigText(yaml, 'authz.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value as AuthorizationPolicyConfig[];
}

const AP = (name: string, spec: string, ns = 'default'): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n`;

/** The generated filters, through the wire and the validator, as the sidecar builds them. */
function filtersOf(yaml: string, stats: string[]): HttpFilter[] {
  const generated = rbacHttpFilters(policies(yaml));
  const hcm = {
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'inbound_0.0.0.0_8080',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [...generated, { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
  };
  const wire = decoded(hcm) as Record<string, unknown>;
  const issues = new Issues();
  const configs = httpFilterList(wire, 'hcm', issues);
  if (!issues.ok) throw new Error(issues.errors.join('\n'));
  return configs.map((c) => createRbacFilter(c, (s) => stats.push(s)));
}

interface Req {
  method?: string;
  path?: string;
  authority?: string;
  headers?: IncomingHttpHeaders;
  connection?: Partial<ConnectionFacts>;
  metadata?: Record<string, unknown>;
}

async function decide(filters: HttpFilter[], r: Req): Promise<number> {
  const freq: FilterRequest = {
    request: { method: r.method ?? 'GET', path: r.path ?? '/', authority: r.authority ?? 'reviews.default.svc.cluster.local:8080', scheme: 'https', headers: r.headers ?? {} },
    route: {} as RouteConfig,
    flags: [],
    random: () => 0,
    metadata: new Map(r.metadata ? [['istio_authn', r.metadata]] : []),
    connection: { ...PEER, ...r.connection },
  };
  for (const f of filters) {
    const d = await f.onRequest(freq);
    if (d.kind === 'reply') return d.reply.status;
  }
  return 200;
}

const ALLOW_CALLER = AP('allow-caller', `  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}`);

const ROWS: { name: string; policies: string; req: Req; status: number }[] = [
  { name: 'no policy: no filter, allowed', policies: '', req: {}, status: 200 },
  { name: 'ALLOW by principal: the principal is allowed', policies: ALLOW_CALLER, req: {}, status: 200 },
  { name: 'ALLOW by principal: another principal is denied', policies: ALLOW_CALLER, req: { connection: { principal: 'cluster.local/ns/default/sa/other' } }, status: 403 },
  { name: 'ALLOW by principal: no peer (plaintext) is denied', policies: ALLOW_CALLER, req: { connection: { principal: undefined } }, status: 403 },
  { name: 'ALLOW without rules denies everything', policies: AP('none', '  action: ALLOW'), req: {}, status: 403 },
  { name: 'ALLOW rules: [{}] allows everything', policies: AP('all', '  rules:\n  - {}'), req: { connection: { principal: undefined } }, status: 200 },
  { name: 'DENY without rules denies nothing', policies: AP('d', '  action: DENY'), req: {}, status: 200 },
  {
    name: 'DENY beats ALLOW',
    policies: ALLOW_CALLER + AP('deny-admin', `  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin*]}`),
    req: { path: '/admin/x' },
    status: 403,
  },
  {
    name: 'DENY on a path lets other paths reach ALLOW',
    policies: ALLOW_CALLER + AP('deny-admin', `  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin*]}`),
    req: { path: '/public?q=/admin' },
    status: 200,
  },
  { name: 'AUDIT never denies', policies: AP('audit', '  action: AUDIT\n  rules:\n  - {}'), req: {}, status: 200 },
  { name: 'principal prefix wildcard', policies: AP('p', '  rules:\n  - from:\n    - source: {principals: ["cluster.local/ns/default/*"]}'), req: {}, status: 200 },
  { name: 'principal suffix wildcard miss', policies: AP('p', '  rules:\n  - from:\n    - source: {principals: ["*/sa/admin"]}'), req: {}, status: 403 },
  { name: 'principal "*" needs a peer', policies: AP('p', '  rules:\n  - from:\n    - source: {principals: ["*"]}'), req: { connection: { principal: undefined } }, status: 403 },
  { name: 'notPrincipals excludes the caller', policies: AP('p', '  rules:\n  - from:\n    - source: {notPrincipals: [cluster.local/ns/default/sa/caller]}'), req: {}, status: 403 },
  { name: 'namespaces match the SPIFFE namespace', policies: AP('p', '  rules:\n  - from:\n    - source: {namespaces: [default]}'), req: {}, status: 200 },
  { name: 'namespaces: another namespace is denied', policies: AP('p', '  rules:\n  - from:\n    - source: {namespaces: [prod]}'), req: {}, status: 403 },
  { name: 'notNamespaces', policies: AP('p', '  action: DENY\n  rules:\n  - from:\n    - source: {notNamespaces: [default]}'), req: { connection: { principal: 'cluster.local/ns/evil/sa/x' } }, status: 403 },
  { name: 'ipBlocks CIDR match', policies: AP('p', '  rules:\n  - from:\n    - source: {ipBlocks: [127.160.0.0/16]}'), req: {}, status: 200 },
  { name: 'ipBlocks miss', policies: AP('p', '  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/8]}'), req: {}, status: 403 },
  { name: 'ipBlocks single address, IPv4-mapped peer', policies: AP('p', '  rules:\n  - from:\n    - source: {ipBlocks: [127.160.0.2]}'), req: { connection: { sourceIp: '::ffff:127.160.0.2' } }, status: 200 },
  { name: 'remoteIpBlocks ignores x-forwarded-for', policies: AP('p', '  rules:\n  - from:\n    - source: {remoteIpBlocks: [10.1.0.0/16]}'), req: { headers: { 'x-forwarded-for': '10.1.2.3' } }, status: 403 },
  { name: 'notIpBlocks', policies: AP('p', '  rules:\n  - from:\n    - source: {notIpBlocks: [127.160.0.2]}'), req: {}, status: 403 },
  { name: 'methods', policies: AP('p', '  rules:\n  - to:\n    - operation: {methods: [GET]}'), req: { method: 'POST' }, status: 403 },
  { name: 'notMethods', policies: AP('p', '  rules:\n  - to:\n    - operation: {notMethods: [DELETE]}'), req: { method: 'GET' }, status: 200 },
  { name: 'paths exact ignores the query', policies: AP('p', '  rules:\n  - to:\n    - operation: {paths: [/api]}'), req: { path: '/api?x=1' }, status: 200 },
  { name: 'paths suffix', policies: AP('p', '  rules:\n  - to:\n    - operation: {paths: ["*.json"]}'), req: { path: '/a/b.json' }, status: 200 },
  { name: 'notPaths', policies: AP('p', '  rules:\n  - to:\n    - operation: {notPaths: [/admin]}'), req: { path: '/admin' }, status: 403 },
  { name: 'ports', policies: AP('p', '  rules:\n  - to:\n    - operation: {ports: ["8080"]}'), req: {}, status: 200 },
  { name: 'notPorts', policies: AP('p', '  rules:\n  - to:\n    - operation: {notPorts: ["8080"]}'), req: {}, status: 403 },
  { name: 'hosts: case and port do not matter', policies: AP('p', '  rules:\n  - to:\n    - operation: {hosts: [reviews.default.svc.cluster.local]}'), req: { authority: 'Reviews.DEFAULT.svc.cluster.local:8080' }, status: 200 },
  { name: 'hosts: another host is denied', policies: AP('p', '  rules:\n  - to:\n    - operation: {hosts: [reviews.default.svc.cluster.local]}'), req: { authority: 'ratings.default.svc.cluster.local' }, status: 403 },
  { name: 'notHosts, upper-case authority', policies: AP('p', '  action: DENY\n  rules:\n  - to:\n    - operation: {hosts: ["admin.example.com"]}'), req: { authority: 'ADMIN.example.com' }, status: 403 },
  { name: 'to: any of several operations', policies: AP('p', '  rules:\n  - to:\n    - operation: {methods: [POST]}\n    - operation: {paths: [/ok]}'), req: { path: '/ok' }, status: 200 },
  { name: 'from and to must both match', policies: AP('p', '  rules:\n  - from:\n    - source: {namespaces: [default]}\n    to:\n    - operation: {methods: [POST]}'), req: { method: 'GET' }, status: 403 },
  { name: 'when request.headers', policies: AP('p', '  rules:\n  - when:\n    - key: request.headers[X-Tenant]\n      values: [blue]'), req: { headers: { 'x-tenant': 'blue' } }, status: 200 },
  // Attack case 5: a repeated header is seen joined with ',', so the policy sees every value.
  { name: 'when request.headers: every value of a repeated header is seen', policies: AP('p', '  rules:\n  - when:\n    - key: request.headers[x-tenant]\n      values: [red]'), req: { headers: { 'x-tenant': ['blue', 'red'] } }, status: 200 },
  { name: 'DENY on a header exact value sees a comma-joined value', policies: AP('p', '  action: DENY\n  rules:\n  - when:\n    - key: request.headers[x-tenant]\n      values: [red]'), req: { headers: { 'x-tenant': 'red, blue' } }, status: 403 },
  { name: 'when request.headers: a missing header does not match', policies: AP('p', '  rules:\n  - when:\n    - key: request.headers[x-tenant]\n      values: [red]'), req: {}, status: 403 },
  { name: 'DENY on a header suffix sees the comma-joined second value', policies: AP('p', '  action: DENY\n  rules:\n  - when:\n    - key: request.headers[x-tenant]\n      values: ["*red"]'), req: { headers: { 'x-tenant': ['blue', 'red'] } }, status: 403 },
  { name: 'when source.namespace notValues', policies: AP('p', '  rules:\n  - when:\n    - key: source.namespace\n      notValues: [default]'), req: {}, status: 403 },
  { name: 'when source.principal', policies: AP('p', '  rules:\n  - when:\n    - key: source.principal\n      values: [cluster.local/ns/default/sa/caller]'), req: {}, status: 200 },
  { name: 'when source.ip', policies: AP('p', '  rules:\n  - when:\n    - key: source.ip\n      values: [127.160.0.0/24]'), req: {}, status: 200 },
  { name: 'when remote.ip', policies: AP('p', '  rules:\n  - when:\n    - key: remote.ip\n      values: [127.160.0.9]'), req: {}, status: 403 },
  { name: 'when destination.ip', policies: AP('p', '  rules:\n  - when:\n    - key: destination.ip\n      values: [127.160.0.3]'), req: {}, status: 200 },
  { name: 'when destination.port', policies: AP('p', '  rules:\n  - when:\n    - key: destination.port\n      values: ["9090"]'), req: {}, status: 403 },
  { name: 'when connection.sni', policies: AP('p', '  rules:\n  - when:\n    - key: connection.sni\n      values: ["*.reviews.default.svc.cluster.local"]'), req: {}, status: 200 },
  { name: 'requestPrincipals without a token is denied', policies: AP('p', '  rules:\n  - from:\n    - source: {requestPrincipals: ["*"]}'), req: {}, status: 403 },
  { name: 'requestPrincipals with jwt metadata', policies: AP('p', '  rules:\n  - from:\n    - source: {requestPrincipals: ["https://issuer/*"]}'), req: { metadata: { 'request.auth.principal': 'https://issuer/alice' } }, status: 200 },
  {
    name: 'when request.auth.claims nested, list value',
    policies: AP('p', '  rules:\n  - when:\n    - key: request.auth.claims[realm][groups]\n      values: [admins]'),
    req: { metadata: { 'request.auth.claims': { realm: { groups: ['users', 'admins'] } } } },
    status: 200,
  },
  { name: 'when request.auth.audiences miss', policies: AP('p', '  rules:\n  - when:\n    - key: request.auth.audiences\n      values: [api]'), req: { metadata: { 'request.auth.audiences': ['web'] } }, status: 403 },
  { name: 'root-namespace policy text is generated the same', policies: AP('mesh', '  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [TRACE]}', 'istio-system'), req: { method: 'TRACE' }, status: 403 },
];

for (const row of ROWS) {
  test(row.name, async (t) => {
    const stats: string[] = [];
    const filters = filtersOf(row.policies, stats);
    t.is(await decide(filters, row.req), row.status);
    if (row.policies !== '' && !row.policies.includes('action: AUDIT')) t.true(stats.includes(row.status === 403 ? 'rbac.denied' : 'rbac.allowed'), stats.join(','));
  });
}

test('a denial is 403 "RBAC: access denied" with response flag RBAC', async (t) => {
  const [filter] = filtersOf(ALLOW_CALLER, []);
  if (!filter) return t.fail('no filter');
  const d = await filter.onRequest({
    request: { method: 'GET', path: '/', authority: 'x', scheme: 'https', headers: {} },
    route: {} as RouteConfig,
    flags: [],
    random: () => 0,
    connection: { ...PEER, principal: 'cluster.local/ns/x/sa/y' },
  });
  t.deepEqual(d, { kind: 'reply', reply: { status: 403, flag: 'RBAC', body: 'RBAC: access denied' } });
});

test('AUDIT counts logged / not_logged', async (t) => {
  const stats: string[] = [];
  const filters = filtersOf(AP('audit', '  action: AUDIT\n  rules:\n  - to:\n    - operation: {paths: [/audited]}'), stats);
  await decide(filters, { path: '/audited' });
  await decide(filters, { path: '/other' });
  t.deepEqual(stats, ['rbac.logged', 'rbac.not_logged']);
});
