import test from 'ava';
import { validateListener } from '../../src/xds/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/**
 * The sidecar's validator on the mesh config's xDS fields: the HCM's path handling maps onto
 * Istio's normalization options or is NACKed with its path; an inbound chain's accepted trust
 * domains are `spiffe://<td>/` URI prefixes or NACKed.
 */

function listener(hcmExtra: Record<string, unknown>, validation?: Record<string, unknown>): object {
  const common: Record<string, unknown> = {
    tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: { ads: {} } }],
    alpn_protocols: ['h2'],
    ...(validation ? { combined_validation_context: validation } : { validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } } }),
  };
  return {
    '@type': TYPE_URL.listener,
    name: 'virtualInbound',
    address: { socket_address: { address: '127.180.9.1', port_value: 15006 } },
    filter_chains: [
      {
        filter_chain_match: { destination_port: { value: 9080 }, transport_protocol: 'tls' },
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: { '@type': TYPED_CONFIG.downstreamTls, common_tls_context: common, require_client_certificate: { value: true } },
        },
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPED_CONFIG.httpConnectionManager,
              stat_prefix: 'inbound',
              rds: { route_config_name: 'x', config_source: { ads: {} } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
              ...hcmExtra,
            },
          },
        ],
      },
    ],
  };
}

const hcmPath = 'filter_chains[0].filters[0].typed_config';
const sanPath = 'filter_chains[0].transport_socket.typed_config.common_tls_context.combined_validation_context.default_validation_context.match_typed_subject_alt_names';
const validation = (matchers: unknown[]) => ({
  default_validation_context: { match_typed_subject_alt_names: matchers },
  validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: { ads: {} } },
});

const ROWS: { name: string; l: object; mode?: string; trustDomains?: string[]; error?: string }[] = [
  { name: 'no path fields: left to the sidecar default', l: listener({}) },
  { name: 'normalize_path false: NONE', l: listener({ normalize_path: { value: false }, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' }), mode: 'NONE' },
  { name: 'normalize_path: BASE', l: listener({ normalize_path: { value: true } }), mode: 'BASE' },
  { name: 'plus merge_slashes: MERGE_SLASHES', l: listener({ normalize_path: { value: true }, merge_slashes: true }), mode: 'MERGE_SLASHES' },
  {
    name: 'plus UNESCAPE_AND_FORWARD: DECODE_AND_MERGE_SLASHES',
    l: listener({ normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' }),
    mode: 'DECODE_AND_MERGE_SLASHES',
  },
  { name: 'merge_slashes without normalize_path is NACKed', l: listener({ merge_slashes: true }), error: `${hcmPath}.merge_slashes: not supported without normalize_path` },
  {
    name: 'UNESCAPE_AND_FORWARD without merge_slashes is NACKed',
    l: listener({ normalize_path: { value: true }, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' }),
    error: `${hcmPath}.path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD is supported only with merge_slashes`,
  },
  { name: 'REJECT_REQUEST is NACKed', l: listener({ normalize_path: { value: true }, path_with_escaped_slashes_action: 'REJECT_REQUEST' }), error: `${hcmPath}.path_with_escaped_slashes_action: unsupported value` },
  {
    name: 'trust domains from URI prefixes',
    l: listener({}, validation([{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/' } }, { san_type: 'URI', matcher: { prefix: 'spiffe://old.example/' } }])),
    trustDomains: ['cluster.local', 'old.example'],
  },
  { name: 'a DNS SAN matcher is NACKed', l: listener({}, validation([{ san_type: 'DNS', matcher: { prefix: 'spiffe://cluster.local/' } }])), error: `${sanPath}[0].san_type: must be URI` },
  { name: 'an exact matcher is NACKed', l: listener({}, validation([{ san_type: 'URI', matcher: { exact: 'spiffe://cluster.local/ns/a/sa/b' } }])), error: `${sanPath}[0].matcher: must be { prefix` },
  { name: 'a prefix that is not a trust domain is NACKed', l: listener({}, validation([{ san_type: 'URI', matcher: { prefix: 'spiffe://cluster.local/ns/' } }])), error: `${sanPath}[0].matcher.prefix:` },
  { name: 'no matcher is NACKed', l: listener({}, validation([])), error: `${sanPath}: must name at least one trust domain` },
];

for (const row of ROWS) {
  test(row.name, (t) => {
    const v = validateListener(decoded(row.l));
    if (row.error !== undefined) {
      t.false(v.ok);
      if (!v.ok) t.true(v.errors.some((e) => e.startsWith(row.error ?? '')), v.errors.join('\n'));
      return;
    }
    t.true(v.ok, v.ok ? '' : v.errors.join('\n'));
    if (!v.ok) return;
    const chain = v.value.filterChains[0];
    t.is(chain?.kind === 'http' ? chain.pathNormalization : 'not http', row.mode);
    t.deepEqual(chain?.tls?.trustDomains, row.trustDomains);
  });
}
