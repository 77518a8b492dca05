import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { AuthorizationPolicyConfig } from '../../src/pilot/config/config-types.ts';
import { rbacHttpFilters } from '../../src/pilot/generators/generator-rbac.ts';
import type { HttpFilterChain, HttpFilterConfig } from '../../src/xds/config-types.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { decoded } from '../xds/support/decode.ts';
import { closeHttp, httpRequest, listenOn } from './support-config.ts';
import { type SidecarPair, startSidecarPair } from './support-pair.ts';

/**
 * Mesh config settings a sidecar pair enforces on real sockets (Citadel-issued certificates):
 * curl → outbound 127.180.1.1:15001 → mesh mTLS h2 → inbound 127.180.1.2:15006 → app.
 * - pathNormalization on the inbound chain decides what DENY /admin* sees, and the app sees the
 *   path that was authorized; on the outbound chain it normalizes before routing.
 * - trustDomainAliases: a caller whose certificate (same root) names an alias trust domain is
 *   accepted only when the inbound chain lists the alias.
 */
const CLIENT = '127.180.1.1';
const SERVER = '127.180.1.2';
const run = promisify(execFile);

function filtersFor(yaml: string, trustDomains: readonly string[] = []): HttpFilterConfig[] {
  const r = parseConfigText(yaml, 'authz.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  const hcm = decoded({
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'inbound',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [...rbacHttpFilters(r.value as AuthorizationPolicyConfig[], trustDomains), { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
  }) as Record<string, unknown>;
  const issues = new Issues();
  const out = httpFilterList(hcm, 'hcm', issues);
  if (!issues.ok) throw new Error(issues.errors.join('\n'));
  return out;
}

const AP = (name: string, spec: string): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: default}\nspec:\n${spec}\n`;
const DENY_ADMIN = AP('deny-admin', '  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin*]}');

let app: http.Server;
let appPort = 0;
const seen: string[] = [];

test.before(async () => {
  app = http.createServer((req, res) => {
    seen.push(req.url ?? '');
    res.end('ok');
  });
  appPort = await listenOn(app, SERVER);
});
test.after.always(async () => {
  if (app) await closeHttp(app);
});

type Mode = NonNullable<HttpFilterChain['pathNormalization']>;
const PATH_ROWS: { name: string; inbound: Mode; outbound?: Mode; path: string; status: number; appSees?: string }[] = [
  { name: 'MERGE_SLASHES: //admin is denied as /admin', inbound: 'MERGE_SLASHES', path: '//admin', status: 403 },
  { name: 'MERGE_SLASHES keeps %2F: the app sees it', inbound: 'MERGE_SLASHES', path: '/%2Fadmin', status: 200, appSees: '/%2Fadmin' },
  { name: 'DECODE_AND_MERGE_SLASHES: /%2Fadmin is denied as /admin', inbound: 'DECODE_AND_MERGE_SLASHES', path: '/%2Fadmin', status: 403 },
  { name: 'DECODE_AND_MERGE_SLASHES: the app sees /a/b for /a%2F%2Fb', inbound: 'DECODE_AND_MERGE_SLASHES', path: '/a%2F%2Fb', status: 200, appSees: '/a/b' },
  { name: 'NONE: /x/../admin is not normalized, so the prefix rule does not see /admin', inbound: 'NONE', path: '/x/../admin', status: 200, appSees: '/x/../admin' },
  { name: 'outbound BASE normalizes before the mesh hop (inbound NONE)', inbound: 'NONE', outbound: 'BASE', path: '/x/../admin', status: 403 },
];

for (const row of PATH_ROWS) {
  test.serial(`pathNormalization ${row.name}`, async (t) => {
    let pair: SidecarPair | undefined;
    try {
      pair = await startSidecarPair({
        client: CLIENT,
        server: SERVER,
        service: 'norm',
        appPort,
        inboundFilters: filtersFor(DENY_ADMIN),
        inboundChain: { pathNormalization: row.inbound },
        ...(row.outbound ? { outboundChain: { pathNormalization: row.outbound } } : {}),
      });
      const before = seen.length;
      const { stdout } = await run('curl', ['-s', '--path-as-is', '-o', '/dev/null', '-w', '%{http_code}', '-H', `Host: norm:${appPort}`, `http://${CLIENT}:15001${row.path}`]);
      t.is(Number(stdout), row.status);
      if (row.status === 403) t.is(seen.length, before, 'a denied request never reaches the app');
      else t.is(seen.at(-1), row.appSees ?? row.path);
    } finally {
      await pair?.close();
    }
  });
}

const ALIAS_ROWS: { name: string; clientTd: string; accepted?: string[]; status: number }[] = [
  { name: 'a caller in an alias trust domain is accepted when the chain lists it', clientTd: 'old.example', accepted: ['cluster.local', 'old.example'], status: 200 },
  { name: 'a caller in an alias trust domain is refused when the chain does not list it', clientTd: 'old.example', status: 503 },
  { name: 'a caller in a foreign trust domain is refused', clientTd: 'other.example', accepted: ['cluster.local', 'old.example'], status: 503 },
];

for (const row of ALIAS_ROWS) {
  test.serial(`trustDomainAliases: ${row.name}`, async (t) => {
    let pair: SidecarPair | undefined;
    try {
      pair = await startSidecarPair({
        client: CLIENT,
        server: SERVER,
        service: 'alias',
        appPort,
        clientTrustDomain: row.clientTd,
        ...(row.accepted ? { inboundTrustDomains: row.accepted } : {}),
      });
      const before = seen.length;
      const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/who', headers: { host: `alias:${appPort}` } });
      t.is(r.status, row.status, r.body);
      t.is(seen.length, before + (row.status === 200 ? 1 : 0));
    } finally {
      await pair?.close();
    }
  });
}

test.serial('trustDomainAliases: an ALLOW naming the mesh principal admits the same account from an alias', async (t) => {
  const allow = AP('allow-caller', '  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/caller]}');
  const pair = await startSidecarPair({
    client: CLIENT,
    server: SERVER,
    service: 'aliasauthz',
    appPort,
    clientTrustDomain: 'old.example',
    inboundTrustDomains: ['cluster.local', 'old.example'],
    inboundFilters: filtersFor(allow, ['cluster.local', 'old.example']),
  });
  try {
    const r = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/x', headers: { host: `aliasauthz:${appPort}` } });
    t.is(r.status, 200, r.body);
  } finally {
    await pair.close();
  }
});
