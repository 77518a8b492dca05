import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { AuthorizationPolicyConfig } from '../../src/pilot/config/config-types.ts';
import { rbacHttpFilters } from '../../src/pilot/generators/generator-rbac.ts';
import type { HttpFilterConfig } from '../../src/xds/config-types.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { decoded } from '../xds/support/decode.ts';
import { closeHttp, httpRequest, listenOn } from './support-config.ts';
import { metricLine, type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * AuthorizationPolicy through a real sidecar pair (Citadel-issued certificates, mesh mTLS h2):
 * curl → outbound sidecar 127.160.1.1:15001 → inbound sidecar 127.160.1.2:15006 running the RBAC
 * filters Pilot generates for the policies → the app at 127.160.1.2:<port>. The caller's identity
 * is `cluster.local/ns/default/sa/caller`. Each row is one pair with its own policies, so every
 * decision is made on the connection's real peer certificate. Block 127.160.1.0/24.
 */
const CLIENT = '127.160.1.1';
const SERVER = '127.160.1.2';
const run = promisify(execFile);

function filtersFor(yaml: string): HttpFilterConfig[] {
  const r = parseConfigText(yaml, 'authz.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  const hcm = decoded({
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'inbound',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [...rbacHttpFilters(r.value as AuthorizationPolicyConfig[]), { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
  }) as Record<string, unknown>;
  const issues = new Issues();
  const out = httpFilterList(hcm, 'hcm', issues);
  if (!issues.ok) throw new Error(issues.errors.join('\n'));
  return out;
}

const AP = (name: string, spec: string): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: default}\nspec:\n${spec}\n`;

const ALLOW_CALLER = AP('allow-caller', '  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}');
const ALLOW_OTHER = AP('allow-other', '  action: ALLOW\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/other]}');
const DENY_ADMIN = AP('deny-admin', '  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin*]}');
const DENY_TENANT = AP('deny-red', '  action: DENY\n  rules:\n  - when:\n    - key: request.headers[x-tenant]\n      values: ["*red"]');

let app: http.Server;
let appPort = 0;
const seen: string[] = [];

test.before(async () => {
  app = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end(`app saw ${req.url}`);
  });
  appPort = await listenOn(app, SERVER);
});
test.after.always(async () => {
  if (app) await closeHttp(app);
});

const ROWS: { name: string; policies: string; path: string; headers?: Record<string, string[]>; status: number; appSees?: string; upperHost?: boolean }[] = [
  // Attack case 4: host case variants get the same decision.
  { name: 'hosts: an upper-case Host gets the same ALLOW', policies: AP('hosts', '  rules:\n  - to:\n    - operation: {hosts: ["authz*"]}'), path: '/', upperHost: true, status: 200 },
  { name: 'hosts: an upper-case Host gets the same DENY', policies: AP('hosts', '  action: DENY\n  rules:\n  - to:\n    - operation: {hosts: ["authz*"]}'), path: '/', upperHost: true, status: 403 },
  // Attack case 3: the path is normalized (BASE) before authz, and the app sees the authorized path.
  { name: 'normalized before authz: /public/../admin is denied as /admin', policies: ALLOW_CALLER + DENY_ADMIN, path: '/public/../admin', status: 403 },
  { name: 'normalized before authz: /%61dmin is denied as /admin', policies: ALLOW_CALLER + DENY_ADMIN, path: '/%61dmin', status: 403 },
  { name: 'normalized before authz: /%2e%2e/admin is denied as /admin', policies: ALLOW_CALLER + DENY_ADMIN, path: '/%2e%2e/admin', status: 403 },
  { name: 'BASE keeps %2F: the app sees the path authz allowed', policies: ALLOW_CALLER + DENY_ADMIN, path: '/%2Fadmin', status: 200, appSees: '/%2Fadmin' },
  { name: 'BASE keeps //: the app sees the path authz allowed', policies: ALLOW_CALLER + DENY_ADMIN, path: '//admin', status: 200, appSees: '//admin' },
  { name: '/..;p=1/admin is one segment (as Envoy): the app sees it unchanged', policies: ALLOW_CALLER + DENY_ADMIN, path: '/..;p=1/admin', status: 200, appSees: '/..;p=1/admin' },
  { name: 'the app sees the normalized path', policies: ALLOW_CALLER + DENY_ADMIN, path: '/a/./b/../c', status: 200, appSees: '/a/c' },
  { name: 'ALLOW naming the caller lets it through', policies: ALLOW_CALLER, path: '/data', status: 200 },
  { name: 'ALLOW naming another principal gives the caller 403 RBAC', policies: ALLOW_OTHER, path: '/data', status: 403 },
  { name: 'DENY beats ALLOW', policies: ALLOW_CALLER + DENY_ADMIN, path: '/admin/users', status: 403 },
  { name: 'DENY on one path leaves the others to ALLOW', policies: ALLOW_CALLER + DENY_ADMIN, path: '/public', status: 200 },
  { name: 'a repeated policy header is seen with every value (attack case 5)', policies: DENY_TENANT, path: '/', headers: { 'x-tenant': ['red', 'blue'] }, status: 403 },
  { name: 'a comma-joined policy header is seen with every value (attack case 5)', policies: DENY_TENANT, path: '/', headers: { 'x-tenant': ['blue, red'] }, status: 403 },
  { name: 'no matching DENY: allowed', policies: DENY_TENANT, path: '/', headers: { 'x-tenant': ['blue'] }, status: 200 },
];

for (const [i, row] of ROWS.entries()) {
  test.serial(row.name, async (t) => {
    let pair: SidecarPair | undefined;
    try {
      pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: `authz${i}`, appPort, inboundFilters: filtersFor(row.policies) });
      const before = seen.length;
      // curl as the client: it sends repeated headers as separate lines.
      const args = ['-s', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', '-H', `Host: ${row.upperHost ? `AUTHZ${i}` : `authz${i}`}:${appPort}`];
      for (const [name, values] of Object.entries(row.headers ?? {})) for (const v of values) args.push('-H', `${name}: ${v}`);
      const { stdout } = await run('curl', [...args, `http://${CLIENT}:15001${row.path}`]);
      const lines = stdout.trimEnd().split('\n');
      const status = Number(lines.pop());
      t.is(status, row.status, lines.join('\n'));
      if (row.status === 403) {
        t.is(lines.join("\n").trim(), "RBAC: access denied");
        t.is(seen.length, before, 'a denied request never reaches the app');
        const dst = await (await fetch(`${pair.server.urls.metrics}/stats/prometheus`)).text();
        t.truthy(metricLine(dst, 'istio_requests_total', { reporter: 'destination', response_code: '403', response_flags: 'RBAC' }), dst);
        t.true(dst.includes('envoy_rbac_denied'), dst);
      } else {
        t.is(seen.at(-1), row.appSees ?? row.path);
        const dst = await (await fetch(`${pair.server.urls.metrics}/stats/prometheus`)).text();
        t.true(dst.includes('envoy_rbac_allowed'), dst);
      }
    } finally {
      await pair?.close();
    }
  });
}

test.serial('no policy: no RBAC filter on the chain, requests pass', async (t) => {
  t.deepEqual(filtersFor(''), []);
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'open', appPort });
  try {
    const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/x', headers: { host: `open:${appPort}` } });
    t.is(r.status, 200);
  } finally {
    await pair.close();
  }
});

test.serial('a path with a fragment gets 400 at the inbound sidecar and never reaches the app (attack case 3)', async (t) => {
  const pair = await startSidecarPair({ client: CLIENT, server: SERVER, service: 'frag', appPort, inboundFilters: filtersFor(ALLOW_CALLER) });
  try {
    const before = seen.length;
    const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/admin#x', headers: { host: `frag:${appPort}` } });
    t.is(r.status, 400, r.body);
    t.true(r.body.includes('path contains a fragment'), r.body);
    t.is(seen.length, before);
  } finally {
    await pair.close();
  }
});
