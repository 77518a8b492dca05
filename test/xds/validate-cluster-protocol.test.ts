import test from 'ava';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../../src/xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/** A Cluster's upstream HTTP protocol (`typed_extension_protocol_options` HttpProtocolOptions). */

const withOptions = (name: string, options: unknown) => ({
  '@type': TYPE_URL.cluster,
  name,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {} } },
  typed_extension_protocol_options: { [HTTP_PROTOCOL_OPTIONS_KEY]: options },
});
const opts = (fields: object) => ({ '@type': TYPED_CONFIG.httpProtocolOptions, ...fields });

const good: { title: string; options: unknown; expected: ClusterConfig['upstreamHttp2'] }[] = [
  { title: 'explicit HTTP/2', options: opts({ explicit_http_config: { http2_protocol_options: {} } }), expected: { allowConnect: false } },
  { title: 'explicit HTTP/2 with extended CONNECT', options: opts({ explicit_http_config: { http2_protocol_options: { allow_connect: true } } }), expected: { allowConnect: true } },
  { title: 'explicit HTTP/1.1 (the default, spelt out)', options: opts({ explicit_http_config: { http_protocol_options: {} } }), expected: undefined },
];

for (const row of good) {
  test(`accepts ${row.title}`, (t) => {
    const r = validateCluster(decoded(withOptions('outbound|9090||echo.default.svc.cluster.local', row.options)));
    if (!r.ok) {
      t.fail(r.errors.join('\n'));
      return;
    }
    t.deepEqual(r.value.upstreamHttp2, row.expected);
  });
}

const bad: { title: string; name?: string; options: unknown; error: RegExp }[] = [
  { title: 'auto_config', options: opts({ auto_config: { http2_protocol_options: {} } }), error: /auto_config: unsupported field/ },
  { title: 'use_downstream_protocol_config', options: opts({ use_downstream_protocol_config: { http2_protocol_options: {} } }), error: /use_downstream_protocol_config: unsupported field/ },
  {
    title: 'an HTTP/2 setting the transports do not honour',
    options: opts({ explicit_http_config: { http2_protocol_options: { max_concurrent_streams: { value: 10 } } } }),
    error: /http2_protocol_options\.max_concurrent_streams: unsupported field/,
  },
  {
    title: 'upstream_http_protocol_options (auto SNI)',
    options: opts({ explicit_http_config: { http2_protocol_options: {} }, upstream_http_protocol_options: { auto_sni: true } }),
    error: /upstream_http_protocol_options: unsupported field/,
  },
  {
    title: 'HTTP/2 on a gateway passthrough cluster',
    name: 'outbound_.9090_._.echo.default.svc.cluster.local',
    options: opts({ explicit_http_config: { http2_protocol_options: {} } }),
    error: /typed_extension_protocol_options: not honoured on gateway/,
  },
];

for (const row of bad) {
  test(`NACKs ${row.title}`, (t) => {
    const r = validateCluster(decoded(withOptions(row.name ?? 'outbound|9090||echo.default.svc.cluster.local', row.options)));
    t.false(r.ok);
    if (!r.ok) t.regex(r.errors.join('\n'), row.error);
  });
}

test('NACKs an extension other than HttpProtocolOptions', (t) => {
  const r = validateCluster({
    '@type': TYPE_URL.cluster,
    name: 'c',
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} } },
    typed_extension_protocol_options: { 'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions': { '@type': 'x' } },
  });
  t.false(r.ok);
  if (!r.ok) t.regex(r.errors.join('\n'), /typed_extension_protocol_options\.envoy\.extensions\.upstreams\.tcp\.v3\.TcpProtocolOptions: unsupported field/);
});
