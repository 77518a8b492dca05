import test from 'ava';
import { validateListener } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/** The validator on network RBAC filters: before a tcp_proxy only, L4 matchers only, else NACKed with the path. */

const tcpProxy = { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TYPED_CONFIG.tcpProxy, stat_prefix: 'x', cluster: 'inbound|9000||' } };
const hcm = {
  name: 'envoy.filters.network.http_connection_manager',
  typed_config: {
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: 'x',
    rds: { route_config_name: 'x', config_source: { ads: {} } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
  },
};
const rbac = (permission: Record<string, unknown>) => ({
  name: 'envoy.filters.network.rbac',
  typed_config: { '@type': TYPED_CONFIG.networkRbac, stat_prefix: 'tcp.', rules: { action: 'DENY', policies: { p: { permissions: [permission], principals: [{ any: true }] } } } },
});
const listener = (filters: unknown[]) => ({
  '@type': TYPE_URL.listener,
  name: 'virtualInbound',
  address: { socket_address: { address: '127.180.7.1', port_value: 15006 } },
  filter_chains: [{ filter_chain_match: { destination_port: { value: 9000 } }, filters }],
});

const ROWS: { name: string; filters: unknown[]; error?: string }[] = [
  { name: 'a destination_port rule before tcp_proxy', filters: [rbac({ destination_port: 9000 }), tcpProxy] },
  { name: 'a header rule is NACKed', filters: [rbac({ header: { name: ':method', string_match: { exact: 'GET' } } }), tcpProxy], error: 'filter_chains[0].filters[0].typed_config.rules.policies.p: headers, paths and metadata are not supported' },
  { name: 'a url_path rule is NACKed', filters: [rbac({ url_path: { path: { prefix: '/' } } }), tcpProxy], error: 'filter_chains[0].filters[0].typed_config.rules.policies.p: headers, paths and metadata are not supported' },
  { name: 'network RBAC before an HTTP connection manager is NACKed', filters: [rbac({ any: true }), hcm], error: 'filter_chains[0].filters: network RBAC before an HTTP connection manager is not supported' },
  { name: 'another filter before the terminal one is NACKed', filters: [tcpProxy, tcpProxy], error: 'filter_chains[0].filters: exactly one network filter is supported (after any network RBAC filters), found 2' },
];

for (const row of ROWS) {
  test(row.name, (t) => {
    const v = validateListener(decoded(listener(row.filters)));
    if (row.error === undefined) {
      t.true(v.ok, v.ok ? '' : v.errors.join('\n'));
      const chain = v.ok ? v.value.filterChains[0] : undefined;
      t.is(chain?.kind === 'tcp' ? chain.rbac?.[0]?.rules.action : undefined, 'DENY');
      return;
    }
    t.false(v.ok);
    if (!v.ok) t.true(v.errors.some((e) => e.startsWith(row.error ?? '')), v.errors.join('\n'));
  });
}
