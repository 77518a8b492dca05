import test from 'ava';
import { validateCluster } from '../../src/xds/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../../src/xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/**
 * The cluster validator accepts exactly the TLS origination and DNS-resolution shapes the sidecar
 * honours, and NACKs the rest with the field's path. Resources go through the wire encoding first.
 */

const dns = (extra: Record<string, unknown> = {}) => ({
  '@type': TYPE_URL.cluster,
  name: 'outbound|80||api.example',
  type: 'STRICT_DNS',
  dns_lookup_family: 'V4_ONLY',
  load_assignment: {
    cluster_name: 'outbound|80||api.example',
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'api.service.consul', port_value: 80 } } } }] }],
  },
  ...extra,
});
const origination = (common: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  transport_socket: { name: 'envoy.transport_sockets.tls', typed_config: { '@type': TYPED_CONFIG.upstreamTls, common_tls_context: common, ...more } },
});
const cares = (resolvers: unknown[]) => ({
  typed_dns_resolver_config: { name: 'envoy.network.dns_resolver.cares', typed_config: { '@type': TYPED_CONFIG.caresDnsResolver, resolvers } },
});

test('accepts STRICT_DNS with refresh rate, respect_dns_ttl and c-ares resolvers', (t) => {
  const r = validateCluster(decoded(dns({ dns_refresh_rate: { seconds: '2' }, respect_dns_ttl: true, ...cares([{ socket_address: { address: '127.66.9.1', port_value: 8600 } }]) })));
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.deepEqual(r.value.dns, { refreshRateMs: 2000, respectTtl: true, resolvers: [{ host: '127.66.9.1', port: 8600 }] });
  t.is(r.value.staticEndpoints?.[0]?.address.host, 'api.service.consul');
});

test('accepts TLS origination with a client certificate, roots and typed SANs', (t) => {
  const r = validateCluster(
    decoded(
      dns(
        origination(
          {
            tls_certificates: [{ certificate_chain: { filename: '/c.pem' }, private_key: { filename: '/k.pem' } }],
            validation_context: { trusted_ca: { filename: '/ca.pem' }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'api.example' } }] },
          },
          { sni: 'api.example' },
        ),
      ),
    ),
  );
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.deepEqual(r.value.tls, {
    sni: 'api.example',
    alpn: [],
    origination: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem', subjectAltNames: [{ type: 'DNS', value: 'api.example' }] },
  });
});

const HTTP2 = {
  typed_extension_protocol_options: {
    [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TYPED_CONFIG.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } },
  },
};

test('accepts h2 over TLS origination: ALPN h2 with http2_protocol_options', (t) => {
  const r = validateCluster(decoded(dns({ ...origination({ alpn_protocols: ['h2'], validation_context: { trusted_ca: { filename: '/ca.pem' } } }, { sni: 'api.example' }), ...HTTP2 })));
  if (!r.ok) return t.fail(r.errors.join('; '));
  t.deepEqual(r.value.upstreamHttp2, { allowConnect: false });
  t.deepEqual(r.value.tls, { sni: 'api.example', alpn: ['h2'], origination: { caFile: '/ca.pem', subjectAltNames: [] } });
});

const nacks: { title: string; resource: object; error: string }[] = [
  {
    title: 'TLS parameters (protocol versions, ciphers): not honoured, so refused',
    resource: dns(origination({ tls_params: { tls_minimum_protocol_version: 'TLSv1_3' } })),
    error: 'transport_socket.typed_config.common_tls_context.tls_params: unsupported field',
  },
  { title: 'Envoy default lookup family AUTO', resource: dns({ dns_lookup_family: undefined }), error: 'dns_lookup_family: only V4_ONLY is supported (IPv4 answers)' },
  { title: 'V6_ONLY', resource: dns({ dns_lookup_family: 'V6_ONLY' }), error: 'dns_lookup_family: only V4_ONLY is supported (IPv4 answers)' },
  {
    title: 'LOGICAL_DNS with two endpoints',
    resource: dns({
      type: 'LOGICAL_DNS',
      load_assignment: {
        cluster_name: 'x',
        endpoints: [{ lb_endpoints: ['a.b', 'c.d'].map((address) => ({ endpoint: { address: { socket_address: { address, port_value: 80 } } } })) }],
      },
    }),
    error: 'load_assignment: a LOGICAL_DNS cluster takes exactly one endpoint',
  },
  {
    title: 'a resolver other than c-ares',
    resource: dns({ typed_dns_resolver_config: { name: 'apple', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Empty' } } }),
    error: 'typed_dns_resolver_config.typed_config: unsupported DNS resolver "type.googleapis.com/google.protobuf.Empty"',
  },
  {
    title: 'DNS fields on an EDS cluster',
    resource: { '@type': TYPE_URL.cluster, name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, dns_refresh_rate: { seconds: '1' } },
    error: 'dns_refresh_rate: only STRICT_DNS and LOGICAL_DNS clusters resolve names',
  },
  {
    title: 'a hostname on a STATIC cluster',
    resource: dns({ type: 'STATIC', dns_lookup_family: undefined }),
    error: "load_assignment.endpoints.lb_endpoints[0]: a STATIC cluster's endpoint address must be an IP (api.service.consul)",
  },
  {
    title: 'inline certificate bytes',
    resource: dns(origination({ validation_context: { trusted_ca: { inline_string: 'PEM' } } })),
    error: 'transport_socket.typed_config.common_tls_context.validation_context.trusted_ca.inline_string: unsupported field',
  },
  {
    title: 'a validation context without roots',
    resource: dns(origination({ validation_context: { match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'a' } }] } })),
    error: 'transport_socket.typed_config.common_tls_context.validation_context.trusted_ca: missing (a validation context without roots is not supported)',
  },
  {
    title: 'a prefix SAN matcher',
    resource: dns(origination({ validation_context: { trusted_ca: { filename: '/ca.pem' }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { prefix: 'a' } }] } })),
    error: 'transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].matcher.prefix: unsupported field',
  },
  {
    title: 'an EMAIL SAN',
    resource: dns(origination({ validation_context: { trusted_ca: { filename: '/ca.pem' }, match_typed_subject_alt_names: [{ san_type: 'EMAIL', matcher: { exact: 'a@b' } }] } })),
    error: 'transport_socket.typed_config.common_tls_context.validation_context.match_typed_subject_alt_names[0].san_type: only DNS and URI are supported',
  },
  {
    title: 'ALPN h2 on origination without http2_protocol_options',
    resource: dns(origination({ alpn_protocols: ['h2'] })),
    error: 'transport_socket.typed_config.common_tls_context.alpn_protocols: offers h2 but the cluster speaks HTTP/1.1: set http2_protocol_options',
  },
  {
    title: 'ALPN http/1.1 on origination of an HTTP/2 cluster',
    resource: dns({ ...origination({ alpn_protocols: ['http/1.1'] }), ...HTTP2 }),
    error: 'transport_socket.typed_config.common_tls_context.alpn_protocols: offers http/1.1 but the cluster speaks HTTP/2 (http2_protocol_options): offer h2',
  },
  {
    title: 'ALPN h2 and http/1.1 together (the cluster speaks one protocol)',
    resource: dns({ ...origination({ alpn_protocols: ['h2', 'http/1.1'] }), ...HTTP2 }),
    error: 'transport_socket.typed_config.common_tls_context.alpn_protocols: h2 cannot be offered with http/1.1: the cluster speaks one protocol',
  },
  {
    title: 'an ALPN other than h2 and http/1.1',
    resource: dns(origination({ alpn_protocols: ['h3'] })),
    error: 'transport_socket.typed_config.common_tls_context.alpn_protocols: TLS origination speaks h2 or http/1.1 only',
  },
  {
    title: 'two client certificates',
    resource: dns(
      origination({
        tls_certificates: [1, 2].map(() => ({ certificate_chain: { filename: '/c.pem' }, private_key: { filename: '/k.pem' } })),
      }),
    ),
    error: 'transport_socket.typed_config.common_tls_context.tls_certificates: at most one certificate is supported',
  },
  {
    title: 'mesh SDS secrets mixed with file certificates',
    resource: dns(origination({ tls_certificate_sds_secret_configs: [{ name: 'default' }], tls_certificates: [{ certificate_chain: { filename: '/c.pem' }, private_key: { filename: '/k.pem' } }] })),
    error: 'transport_socket.typed_config.common_tls_context.tls_certificates: unsupported field',
  },
];

for (const row of nacks) {
  test(`NACKs: ${row.title}`, (t) => {
    const r = validateCluster(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}
