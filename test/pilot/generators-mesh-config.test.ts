import test from 'ava';
import { DEFAULT_MESH_CONFIG, type MeshConfig, PATH_NORMALIZATIONS } from '../../src/pilot/config/mesh-config.ts';
import type { HttpFilterChain, ListenerConfig } from '../../src/xds/config-types.ts';
import { validateListener } from '../../src/xds/index.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from '../xds/support/decode.ts';
import { listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * What the mesh config changes in LDS, read back through the wire and the sidecar's validator:
 * path normalization on the inbound and outbound connection managers, the accepted peer trust
 * domains on the inbound mTLS chains, AuthorizationPolicy principals across trust domain aliases,
 * and the root namespace that makes a policy mesh-wide.
 */

const mesh = (m: Partial<MeshConfig>): MeshConfig => ({ ...DEFAULT_MESH_CONFIG, ...m });

const AP = (name: string, ns: string, spec: string): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n`;

function validated(m: MeshConfig, yaml = ''): Map<string, ListenerConfig> {
  const snap = new SnapshotBuilder({ mesh: m }).workload('reviews-v1', 'reviews', 9080).yaml(yaml).build();
  const out = new Map<string, ListenerConfig>();
  for (const [name, l] of listenersOf(proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.1' }), snap)) {
    const v = validateListener(decoded(l as object));
    if (!v.ok) throw new Error(v.errors.join('\n'));
    out.set(name, v.value);
  }
  return out;
}

const httpChains = (l: ListenerConfig | undefined): HttpFilterChain[] => (l?.filterChains ?? []).filter((c): c is HttpFilterChain => c.kind === 'http');

for (const mode of PATH_NORMALIZATIONS) {
  test(`pathNormalization ${mode}: inbound and outbound connection managers carry it`, (t) => {
    const ls = validated(mesh({ pathNormalization: mode }));
    const inbound = httpChains(ls.get('virtualInbound'));
    const outbound = httpChains(ls.get('virtualOutbound'));
    t.true(inbound.length > 0 && outbound.length > 0);
    for (const c of [...inbound, ...outbound]) t.is(c.pathNormalization, mode, c.name);
  });
}

test('trust domain aliases: the inbound mTLS chain accepts the mesh trust domain and each alias', (t) => {
  const ls = validated(mesh({ trustDomainAliases: ['old.example', 'legacy.local'] }));
  const tls = httpChains(ls.get('virtualInbound')).filter((c) => c.transportProtocol === 'tls');
  t.is(tls.length, 1);
  t.deepEqual(tls[0]?.tls?.trustDomains, ['cluster.local', 'old.example', 'legacy.local']);
});

test('without aliases the inbound chain accepts the mesh trust domain only', (t) => {
  const ls = validated(DEFAULT_MESH_CONFIG);
  const tls = httpChains(ls.get('virtualInbound')).find((c) => c.transportProtocol === 'tls');
  t.deepEqual(tls?.tls?.trustDomains, ['cluster.local']);
});

function rbacPrincipals(m: MeshConfig, principal: string): string[] {
  const snap = new SnapshotBuilder({ mesh: m })
    .workload('reviews-v1', 'reviews', 9080)
    .yaml(AP('allow', 'default', `  rules:\n  - from:\n    - source: {principals: [${principal}]}`))
    .build();
  const l = listenersOf(proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.1' }), snap).get('virtualInbound');
  const hcm = l?.filter_chains?.[0]?.filters[0]?.typed_config as { http_filters: { typed_config: { '@type': string } }[] };
  const rbac = hcm.http_filters.find((f) => f.typed_config['@type'] === TYPED_CONFIG.rbac);
  return [...JSON.stringify(rbac).matchAll(/"exact":"(spiffe:[^"]+)"/g)].map((x) => x[1] ?? '');
}

const PRINCIPAL_ROWS = [
  { name: 'a principal of the mesh trust domain matches in every alias', principal: 'cluster.local/ns/default/sa/caller', aliases: ['old.example'], want: ['spiffe://cluster.local/ns/default/sa/caller', 'spiffe://old.example/ns/default/sa/caller'] },
  { name: 'a principal of an alias matches in the mesh trust domain too', principal: 'old.example/ns/default/sa/caller', aliases: ['old.example'], want: ['spiffe://cluster.local/ns/default/sa/caller', 'spiffe://old.example/ns/default/sa/caller'] },
  { name: 'a foreign trust domain is not expanded', principal: 'other.example/ns/default/sa/caller', aliases: ['old.example'], want: ['spiffe://other.example/ns/default/sa/caller'] },
  { name: 'without aliases nothing is expanded', principal: 'cluster.local/ns/default/sa/caller', aliases: [], want: ['spiffe://cluster.local/ns/default/sa/caller'] },
];

for (const row of PRINCIPAL_ROWS) {
  test(`principals: ${row.name}`, (t) => {
    t.deepEqual(rbacPrincipals(mesh({ trustDomainAliases: row.aliases }), row.principal), row.want);
  });
}

const ROOT_ROWS = [
  { name: 'a policy in the configured root namespace applies mesh-wide', root: 'mesh-root', ns: 'mesh-root', rbac: true },
  { name: 'istio-system is no longer mesh-wide once another root is configured', root: 'mesh-root', ns: 'istio-system', rbac: false },
  { name: 'default root namespace istio-system', root: 'istio-system', ns: 'istio-system', rbac: true },
];

for (const row of ROOT_ROWS) {
  test(`rootNamespace: ${row.name}`, (t) => {
    const ls = validated(mesh({ rootNamespace: row.root }), AP('deny-trace', row.ns, '  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [TRACE]}'));
    const filters = httpChains(ls.get('virtualInbound'))[0]?.httpFilters ?? [];
    t.is(filters.some((f) => f.typeUrl === TYPED_CONFIG.rbac), row.rbac);
  });
}
