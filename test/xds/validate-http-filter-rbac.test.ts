import test from 'ava';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { httpFilterList } from '../../src/xds/validate/http-filters.ts';
import { Issues } from '../../src/xds/validate/reader.ts';
import { decoded } from './support/decode.ts';

/**
 * The RBAC filter config (`envoy.extensions.filters.http.rbac.v3.RBAC`) as a sidecar validates it,
 * through the wire: what meshfed cannot enforce is NACKed with its path, never ignored.
 */

function errorsOf(rbac: Record<string, unknown>): string[] {
  const hcm = decoded({
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'inbound',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [
      { name: 'envoy.filters.http.rbac', typed_config: { '@type': TYPED_CONFIG.rbac, ...rbac } },
      { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } },
    ],
  }) as Record<string, unknown>;
  const issues = new Issues();
  httpFilterList(hcm, 'hcm', issues);
  return issues.errors;
}

const pol = (p: Record<string, unknown>) => ({ rules: { action: 'ALLOW', policies: { p: { permissions: [{ any: true }], principals: [{ any: true }], ...p } } } });
const TC = 'hcm.http_filters[0].typed_config';

const ROWS: { name: string; rbac: Record<string, unknown>; error?: string }[] = [
  { name: 'allow all', rbac: pol({}) },
  { name: 'empty filter (no rules): accepted', rbac: {} },
  { name: 'a CEL condition is refused', rbac: pol({ condition: { ident_expr: { name: 'x' } } }), error: `${TC}.rules.policies.p.condition: unsupported field` },
  { name: 'a matcher tree is refused', rbac: { matcher: { matcher_list: { matchers: [] } } }, error: `${TC}.matcher: unsupported field` },
  { name: 'per-rule stats are refused', rbac: { ...pol({}), track_per_rule_stats: true }, error: `${TC}.track_per_rule_stats: unsupported field` },
  { name: 'an unsupported permission kind', rbac: pol({ permissions: [{ metadata: { filter: 'x', path: [{ key: 'y' }], value: { present_match: true } } }] }), error: `${TC}.rules.policies.p.permissions[0].metadata: unsupported field` },
  { name: 'an unsupported principal kind', rbac: pol({ principals: [{ url_path: { path: { exact: '/' } } }] }), error: `${TC}.rules.policies.p.principals[0].url_path: unsupported field` },
  { name: 'a policy without principals', rbac: pol({ principals: [] }), error: `${TC}.rules.policies.p.principals: at least one principal is required` },
  { name: 'a bad CIDR', rbac: pol({ principals: [{ direct_remote_ip: { address_prefix: 'nope', prefix_len: { value: 8 } } }] }), error: `${TC}.rules.policies.p.principals[0].direct_remote_ip.address_prefix: "nope" is not an IP address` },
  { name: 'a too-long prefix', rbac: pol({ principals: [{ remote_ip: { address_prefix: '10.0.0.0', prefix_len: { value: 40 } } }] }), error: `${TC}.rules.policies.p.principals[0].remote_ip.prefix_len.value: must be an integer in [0, 32]` },
  { name: 'metadata with a non-string matcher', rbac: pol({ principals: [{ metadata: { filter: 'istio_authn', path: [{ key: 'k' }], value: { bool_match: true } } }] }), error: `${TC}.rules.policies.p.principals[0].metadata.value.bool_match: unsupported field` },
  { name: 'a nested not/and/or tree', rbac: pol({ permissions: [{ not_rule: { and_rules: { rules: [{ or_rules: { rules: [{ destination_port: 80 }, { url_path: { path: { prefix: '/a' } } }] } }] } } }] }) },
  { name: 'a bad regex', rbac: pol({ permissions: [{ header: { name: 'x', string_match: { safe_regex: { regex: '(' } } } }] }), error: 'invalid regex' },
];

for (const row of ROWS) {
  test(row.name, (t) => {
    const errors = errorsOf(row.rbac);
    if (row.error === undefined) t.deepEqual(errors, []);
    else t.true(errors.some((e) => e.includes(row.error ?? '')), errors.join('\n'));
  });
}
