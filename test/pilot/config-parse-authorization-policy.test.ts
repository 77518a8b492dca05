import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { AuthorizationPolicyConfig } from '../../src/pilot/config/config-types.ts';
import { authorizationPoliciesFor } from '../../src/pilot/model/authorization-scope.ts';
import { DEFAULT_MESH_CONFIG } from '../../src/pilot/config/mesh-config.ts';
import type { Snapshot } from '../../src/pilot/model/snapshot.ts';

/** AuthorizationPolicy parsing (accepted in normalized form, or refused with its path) and scoping. */

const AP = (spec: string, meta = 'name: p, namespace: shop', version = 'v1'): string =>
  `apiVersion: security.istio.io/${version}\nkind: AuthorizationPolicy\nmetadata: {${meta}}\nspec:\n${spec}`;

const REJECTED: { name: string; spec: string; error: string; code?: string }[] = [
  { name: 'unknown top-level field', spec: '  actions: ALLOW', error: 'spec.actions: unknown field' },
  { name: 'unknown action', spec: '  action: PERMIT', error: 'spec.action: must be one of ALLOW, DENY, AUDIT, CUSTOM' },
  { name: 'CUSTOM without provider', spec: '  action: CUSTOM', error: 'spec.provider: required with action CUSTOM' },
  { name: 'CUSTOM is not supported yet', spec: '  action: CUSTOM\n  provider: {name: ext}', error: 'spec.action: CUSTOM (ext_authz) is not supported yet', code: 'CONFIG_UNSUPPORTED' },
  { name: 'provider without CUSTOM', spec: '  action: DENY\n  provider: {name: ext}', error: 'spec.provider: only allowed with action CUSTOM' },
  { name: 'targetRef', spec: '  targetRef: {kind: Gateway, name: gw}', error: 'spec.targetRef: targetRef is not supported (meshfed has no Gateway API)', code: 'CONFIG_UNSUPPORTED' },
  { name: 'unknown source field', spec: '  rules:\n  - from:\n    - source: {principal: [a]}', error: 'spec.rules[0].from[0].source.principal: unknown field' },
  { name: 'serviceAccounts', spec: '  rules:\n  - from:\n    - source: {serviceAccounts: [a]}', error: 'spec.rules[0].from[0].source.serviceAccounts: serviceAccounts is not supported yet (use principals)', code: 'CONFIG_UNSUPPORTED' },
  { name: 'bad ipBlock', spec: '  rules:\n  - from:\n    - source: {ipBlocks: [10.0.0.0/33]}', error: 'spec.rules[0].from[0].source.ipBlocks[0]: "10.0.0.0/33" has an invalid prefix length' },
  { name: 'not an IP', spec: '  rules:\n  - from:\n    - source: {remoteIpBlocks: [example.com]}', error: 'spec.rules[0].from[0].source.remoteIpBlocks[0]: "example.com" is not an IP address or CIDR' },
  { name: 'empty list', spec: '  rules:\n  - from:\n    - source: {principals: []}', error: 'spec.rules[0].from[0].source.principals: must not be empty when set' },
  { name: 'port not a number', spec: '  rules:\n  - to:\n    - operation: {ports: [http]}', error: 'spec.rules[0].to[0].operation.ports[0]: must be a port number 1..65535' },
  { name: 'unknown operation field', spec: '  rules:\n  - to:\n    - operation: {path: [/]}', error: 'spec.rules[0].to[0].operation.path: unknown field' },
  { name: 'unknown when key', spec: '  rules:\n  - when:\n    - key: request.time\n      values: [x]', error: 'spec.rules[0].when[0].key: is not supported' },
  { name: 'when without values', spec: '  rules:\n  - when:\n    - key: source.ip', error: 'spec.rules[0].when[0]: one of values or notValues is required' },
  { name: 'when destination.port not a number', spec: '  rules:\n  - when:\n    - key: destination.port\n      values: [abc]', error: 'spec.rules[0].when[0].values[0]: must be a port number' },
  { name: 'when source.ip not a CIDR', spec: '  rules:\n  - when:\n    - key: source.ip\n      notValues: [x]', error: 'spec.rules[0].when[0].notValues[0]: "x" is not an IP address or CIDR' },
  { name: 'unknown rule field', spec: '  rules:\n  - unless: []', error: 'spec.rules[0].unless: unknown field' },
];

for (const row of REJECTED) {
  test(`rejected: ${row.name}`, (t) => {
    const r = parseConfigText(AP(row.spec), 'authz.yaml');
    if (r.ok) return t.fail('accepted');
    const texts = r.errors.map(String);
    t.true(texts.some((e) => e.includes(row.error)), texts.join('\n'));
    if (row.code !== undefined) t.true(r.errors.some((e) => e.code === row.code));
  });
}

test('accepted in v1 and v1beta1, action defaults to ALLOW, every field kept', (t) => {
  for (const v of ['v1', 'v1beta1']) {
    const spec = `  selector: {matchLabels: {app: reviews}}\n  rules:\n  - from:\n    - source: {principals: [a], notNamespaces: [b], ipBlocks: [10.0.0.0/8], requestPrincipals: ["*"]}\n    to:\n    - operation: {hosts: [h], methods: [GET], paths: [/x*], notPorts: ["9090"]}\n    when:\n    - key: request.auth.claims[iss][sub]\n      values: [x]`;
    const r = parseConfigText(AP(spec, 'name: p, namespace: shop', v), 'authz.yaml');
    if (!r.ok) return t.fail(r.errors.map(String).join('\n'));
    const p = r.value[0] as AuthorizationPolicyConfig;
    t.is(p.spec.action, 'ALLOW');
    t.deepEqual(p.spec.selector, { matchLabels: { app: 'reviews' } });
    t.deepEqual(p.spec.rules?.[0]?.from?.[0]?.source, { principals: ['a'], notNamespaces: ['b'], ipBlocks: ['10.0.0.0/8'], requestPrincipals: ['*'] });
    t.deepEqual(p.spec.rules?.[0]?.when, [{ key: 'request.auth.claims[iss][sub]', values: ['x'] }]);
  }
});

function snapWith(yaml: string): Snapshot {
  const r = parseConfigText(yaml, 'authz.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return { authorizationPolicies: r.value as AuthorizationPolicyConfig[], mesh: DEFAULT_MESH_CONFIG } as unknown as Snapshot;
}

const SCOPE = [
  AP('  action: DENY', 'name: mesh, namespace: istio-system'),
  AP('  selector: {matchLabels: {app: reviews}}\n  action: DENY', 'name: mesh-reviews, namespace: istio-system'),
  AP('  action: DENY', 'name: ns, namespace: shop'),
  AP('  selector: {matchLabels: {app: reviews}}\n  action: DENY', 'name: reviews, namespace: shop'),
  AP('  action: DENY', 'name: other-ns, namespace: prod'),
].join('\n---\n');

const SCOPE_ROWS = [
  { name: 'reviews in shop: mesh, namespace and selected', workload: { namespace: 'shop', labels: { app: 'reviews' } }, expect: ['mesh', 'mesh-reviews', 'ns', 'reviews'] },
  { name: 'ratings in shop: mesh-wide and namespace-wide only', workload: { namespace: 'shop', labels: { app: 'ratings' } }, expect: ['mesh', 'ns'] },
  { name: 'reviews in dev: root-namespace policies only', workload: { namespace: 'dev', labels: { app: 'reviews' } }, expect: ['mesh', 'mesh-reviews'] },
];

for (const row of SCOPE_ROWS) {
  test(`scope: ${row.name}`, (t) => {
    const snap = snapWith(SCOPE);
    const got = authorizationPoliciesFor(snap, row.workload);
    t.deepEqual(
      got.map((p) => p.metadata.name).sort(),
      [...row.expect].sort(),
    );
    t.is(authorizationPoliciesFor(snap, { ...row.workload }), got, 'memoised per snapshot');
  });
}
