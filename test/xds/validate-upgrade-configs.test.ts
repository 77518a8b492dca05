import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { validateListener, validateRouteConfiguration } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { proxyNode, SnapshotBuilder } from '../pilot/support/snapshot-builder.ts';
import { decoded } from './support/decode.ts';

/** `upgrade_configs` (websocket) on the HTTP connection manager and on a route, and `allow_connect`. */

const router = { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } };
const listener = (hcmExtra: Record<string, unknown>) => ({
  '@type': TYPE_URL.listener,
  name: 'l',
  address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: { '@type': TYPED_CONFIG.httpConnectionManager, stat_prefix: 'o', rds: { route_config_name: 'r', config_source: { ads: {} } }, http_filters: [router], ...hcmExtra },
        },
      ],
    },
  ],
});
const routes = (actionExtra: Record<string, unknown>) => ({
  '@type': TYPE_URL.route,
  name: 'r',
  virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', ...actionExtra } }] }],
});

const hcmRows: { title: string; extra: Record<string, unknown>; websocket?: boolean; allowConnect?: boolean; error?: RegExp }[] = [
  { title: 'websocket', extra: { upgrade_configs: [{ upgrade_type: 'websocket' }] }, websocket: true },
  { title: 'WebSocket, any case', extra: { upgrade_configs: [{ upgrade_type: 'WebSocket' }] }, websocket: true },
  { title: 'websocket disabled', extra: { upgrade_configs: [{ upgrade_type: 'websocket', enabled: { value: false } }] }, websocket: false },
  { title: 'extended CONNECT allowed', extra: { http2_protocol_options: { allow_connect: true } }, allowConnect: true },
  { title: 'an upgrade other than websocket', extra: { upgrade_configs: [{ upgrade_type: 'CONNECT' }] }, error: /upgrade_configs\[0\]\.upgrade_type: unsupported upgrade "CONNECT"/ },
  { title: 'upgrade filters', extra: { upgrade_configs: [{ upgrade_type: 'websocket', filters: [router] }] }, error: /upgrade_configs\[0\]\.filters: unsupported field/ },
  { title: 'an HTTP/2 setting besides allow_connect', extra: { http2_protocol_options: { max_concurrent_streams: { value: 5 } } }, error: /http2_protocol_options\.max_concurrent_streams: unsupported field/ },
];

for (const row of hcmRows) {
  test(`HCM: ${row.error ? 'NACKs' : 'accepts'} ${row.title}`, (t) => {
    const r = validateListener(decoded(listener(row.extra)));
    if (row.error) {
      t.false(r.ok);
      if (!r.ok) t.regex(r.errors.join('\n'), row.error);
      return;
    }
    if (!r.ok) {
      t.fail(r.errors.join('\n'));
      return;
    }
    const chain = r.value.filterChains[0];
    t.is(chain?.kind === 'http' ? chain.websocket : 'not http', row.websocket);
    t.is(chain?.kind === 'http' ? chain.allowConnect : 'not http', row.allowConnect);
  });
}

const routeRows: { title: string; extra: Record<string, unknown>; websocket?: boolean; error?: RegExp }[] = [
  { title: 'route websocket enabled', extra: { upgrade_configs: [{ upgrade_type: 'websocket', enabled: { value: true } }] }, websocket: true },
  { title: 'route websocket disabled', extra: { upgrade_configs: [{ upgrade_type: 'websocket', enabled: { value: false } }] }, websocket: false },
  { title: 'route CONNECT config', extra: { upgrade_configs: [{ upgrade_type: 'CONNECT', connect_config: {} }] }, error: /upgrade_configs\[0\]/ },
];

for (const row of routeRows) {
  test(`RDS: ${row.error ? 'NACKs' : 'accepts'} ${row.title}`, (t) => {
    const r = validateRouteConfiguration(decoded(routes(row.extra)));
    if (row.error) {
      t.false(r.ok);
      if (!r.ok) t.regex(r.errors.join('\n'), row.error);
      return;
    }
    if (!r.ok) {
      t.fail(r.errors.join('\n'));
      return;
    }
    t.is(r.value.virtualHosts[0]?.routes[0]?.websocket, row.websocket);
  });
}

test("Pilot's sidecar listeners enable websocket outbound and inbound, with extended CONNECT inbound; the receiver accepts them", (t) => {
  const snap = new SnapshotBuilder({ cluster: 'east' }).workload('echo-v1', 'echo', 9080).build();
  const listeners = generate(proxyNode('sidecar', { workload: 'echo-v1', ip: '127.0.1.1' }), TYPE_URL.listener, snap);
  t.is(listeners.length, 2);
  for (const l of listeners) {
    const v = validateListener(decoded(l.resource));
    if (!v.ok) {
      t.fail(v.errors.join('\n'));
      continue;
    }
    for (const c of v.value.filterChains) {
      if (c.kind !== 'http') continue;
      t.true(c.websocket, `${v.value.name} ${c.name}`);
      t.is(c.allowConnect, v.value.direction === 'INBOUND' ? true : undefined, `${v.value.name} ${c.name}`);
    }
  }
});
