import test from 'ava';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../../src/xds/resources.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { clustersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';
import { decoded } from '../xds/support/decode.ts';

/** CDS: the upstream protocol follows the service port's protocol (grpc → HTTP/2, http → HTTP/1.1). */

const snap = new SnapshotBuilder({ cluster: 'east' })
  .workload('echo-grpc-v1', 'echo-grpc', 9090, { protocol: 'grpc' })
  .workload('echo-v1', 'echo', 9080, { protocol: 'http' })
  .build();

const HTTP2 = { [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TYPED_CONFIG.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } } };

const rows: { proxy: string; cluster: string; http2: boolean }[] = [
  { proxy: 'echo-grpc-v1', cluster: 'inbound|9090||', http2: true },
  { proxy: 'echo-grpc-v1', cluster: 'outbound|9090||echo-grpc.default.svc.cluster.local', http2: true },
  { proxy: 'echo-v1', cluster: 'inbound|9080||', http2: false },
  { proxy: 'echo-v1', cluster: 'outbound|9080||echo.default.svc.cluster.local', http2: false },
];

for (const row of rows) {
  test(`${row.cluster} of ${row.proxy}: ${row.http2 ? 'http2_protocol_options' : 'no protocol options (HTTP/1.1)'}, accepted by the receiver`, (t) => {
    const c = clustersOf(proxyNode('sidecar', { workload: row.proxy, ip: '127.0.1.1' }), snap).get(row.cluster);
    if (!c) {
      t.fail(`no cluster ${row.cluster}`);
      return;
    }
    t.deepEqual(c.typed_extension_protocol_options, row.http2 ? HTTP2 : undefined);
    const v = validateCluster(decoded(c));
    if (!v.ok) {
      t.fail(v.errors.join('\n'));
      return;
    }
    t.deepEqual(v.value.upstreamHttp2, row.http2 ? { allowConnect: false } : undefined);
  });
}
