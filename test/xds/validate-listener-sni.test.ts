import test from 'ava';
import { validateListener } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/** The receiver's view of SNI-routed tcp listeners (`0.0.0.0_<port>` of tls ports): what it accepts and what it NACKs, by path. */
const inspector = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TYPED_CONFIG.tlsInspector } };
const tcp = (cluster: string) => ({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: cluster, cluster } });
const chain = (names: string[] | undefined, cluster: string, match: Record<string, unknown> = {}) => ({
  name: cluster,
  ...(names !== undefined || Object.keys(match).length > 0 ? { filter_chain_match: { ...(names ? { server_names: names } : {}), ...match } } : {}),
  filters: [tcp(cluster)],
});
const listener = (chains: object[], filters: object[] = [inspector]) => ({
  '@type': TYPE_URL.listener,
  name: '0.0.0.0_8443',
  address: { socket_address: { address: '127.70.0.1', port_value: 8443 } },
  traffic_direction: 'OUTBOUND',
  ...(filters.length > 0 ? { listener_filters: filters } : {}),
  filter_chains: chains,
});

test('exact and *.suffix server names, lower-cased, and a default chain', (t) => {
  const r = validateListener(decoded(listener([chain(['A.Example.com', '*.svc.cluster.local'], 'a'), chain(['*.example.com'], 'w'), chain(undefined, 'd')])));
  if (!r.ok) return t.fail(r.errors.join('\n'));
  t.true(r.value.tlsInspector);
  t.deepEqual(r.value.filterChains.map((c) => [c.name, c.serverNames]), [['a', ['a.example.com', '*.svc.cluster.local']], ['w', ['*.example.com']], ['d', []]]);
});

const bad: [title: string, resource: object, error: string][] = [
  ['a bare * server name', listener([chain(['*'], 'a')]), 'filter_chains[0].filter_chain_match.server_names[0]: "*" is neither a host name nor a wildcard *.suffix'],
  ['a wildcard inside a name', listener([chain(['a.*.example.com'], 'a')]), 'filter_chains[0].filter_chain_match.server_names[0]: "a.*.example.com" is neither a host name nor a wildcard *.suffix'],
  ['a prefix wildcard (Envoy matches suffixes only)', listener([chain(['example.*'], 'a')]), 'filter_chains[0].filter_chain_match.server_names[0]: "example.*" is neither a host name nor a wildcard *.suffix'],
  ['server_names without tls_inspector', listener([chain(['a.example.com'], 'a'), chain(undefined, 'd')], []), 'filter_chains[0].filter_chain_match.server_names: needs the envoy.filters.listener.tls_inspector listener filter'],
  ['one server name on two chains', listener([chain(['a.example.com'], 'a'), chain(['b.example.com', 'A.example.com'], 'b')]), 'filter_chains[1]: same match as filter_chains[0] (server name "a.example.com")'],
  ['two default chains', listener([chain(undefined, 'a'), chain(undefined, 'b')]), 'filter_chains[1]: same match as filter_chains[0]'],
  ['another listener filter', listener([chain(undefined, 'a')], [inspector, { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }]), 'listener_filters[1]: unsupported listener filter "envoy.filters.listener.original_dst"'],
  ['tls_inspector twice', listener([chain(undefined, 'a')], [inspector, inspector]), 'listener_filters[1]: tls_inspector listed twice'],
  ['tls_inspector options', listener([chain(undefined, 'a')], [{ ...inspector, typed_config: { ...inspector.typed_config, enable_ja3_fingerprinting: { value: true } } }]), 'listener_filters[0].typed_config.enable_ja3_fingerprinting: unsupported field'],
  ['another filter_chain_match field', listener([chain(['a.example.com'], 'a', { source_prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: { value: 8 } }] })]), 'filter_chains[0].filter_chain_match.source_prefix_ranges: unsupported field'],
];

for (const [title, resource, error] of bad) {
  test(`NACK: ${title}`, (t) => {
    const r = validateListener(decoded(resource));
    if (r.ok) return t.fail('accepted');
    t.true(r.errors.includes(error), r.errors.join(' | '));
  });
}
