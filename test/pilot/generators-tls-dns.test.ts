import test from 'ava';
import type { Snapshot } from '../../src/pilot/model/snapshot.ts';
import type { ClusterConfig } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import type { Cluster } from '../../src/xds/resources.ts';
import { TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { decoded } from '../xds/support/decode.ts';
import { clustersOf, endpointsOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * DestinationRule `tls` and ServiceEntry DNS resolution through CDS/EDS: each row generates the
 * sidecar's clusters, checks the Envoy shape Pilot writes (transport_socket, STRICT_DNS /
 * LOGICAL_DNS with inline hostname endpoints), round-trips it through the wire encoding and
 * validates it with the sidecar's own validator. No sockets.
 */

const sidecar = proxyNode('sidecar');
const REVIEWS = 'reviews.default.svc.cluster.local';

function snapshot(yaml: string, dns?: Snapshot['dns']): Snapshot {
  const b = new SnapshotBuilder(dns ? { dns } : {})
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
    .imported('west', '127.0.9.1', 'reviews-v2', 'reviews', 9080, { version: 'v2' });
  if (yaml !== '') b.yaml(yaml);
  return b.build();
}

function cluster(snap: Snapshot, name: string): { raw: Cluster; config: ClusterConfig } {
  const raw = clustersOf(sidecar, snap).get(name);
  if (!raw) throw new Error(`no cluster ${name}: ${[...clustersOf(sidecar, snap).keys()].join(', ')}`);
  const r = validateCluster(decoded(raw));
  if (!r.ok) throw new Error(`NACK: ${r.errors.join('; ')}`);
  return { raw, config: r.value };
}

const DR = (spec: string, host = 'reviews'): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: ${host}
${spec}`;

const CNN_SE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: edition-cnn-com}
spec:
  hosts: [edition.cnn.com]
  ports:
  - {number: 80, name: http-port, protocol: HTTP}
  - {number: 443, name: http-port-for-tls-origination, protocol: HTTP}
  resolution: DNS
`;

const tlsRows: { title: string; yaml: string; name: string; expected: ClusterConfig['tls'] }[] = [
  {
    title: 'no rule: auto mTLS toward mesh endpoints, which must run as the service accounts of its endpoints (local and imported)',
    yaml: '',
    name: `outbound|9080||${REVIEWS}`,
    expected: { sni: `outbound_.9080_._.${REVIEWS}`, alpn: ['h2'], serverSans: [{ kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/reviews' }] },
  },
  {
    title: 'ISTIO_MUTUAL (Bookinfo destination-rule-all-mtls)',
    yaml: DR('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n  subsets: [{name: v1, labels: {version: v1}}]'),
    name: `outbound|9080|v1|${REVIEWS}`,
    expected: { sni: `outbound_.9080_.v1_.${REVIEWS}`, alpn: ['h2'], serverSans: [{ kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/reviews' }] },
  },
  { title: 'DISABLE: no transport socket', yaml: DR('  trafficPolicy: {tls: {mode: DISABLE}}'), name: `outbound|9080||${REVIEWS}`, expected: undefined },
  {
    title: 'subset DISABLE over top-level ISTIO_MUTUAL',
    yaml: DR('  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n  subsets:\n  - {name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: DISABLE}}}'),
    name: `outbound|9080|v1|${REVIEWS}`,
    expected: undefined,
  },
  {
    title: 'SIMPLE on port 443 (egress TLS origination): system roots, SNI and SAN from the host',
    yaml: `${CNN_SE}---\n${DR('  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: SIMPLE}', 'edition.cnn.com')}`,
    name: 'outbound|443||edition.cnn.com',
    expected: {
      sni: 'edition.cnn.com',
      alpn: [],
      origination: { caFile: '/etc/ssl/certs/ca-certificates.crt', subjectAltNames: [{ type: 'DNS', value: 'edition.cnn.com' }] },
    },
  },
  {
    title: 'MUTUAL with files, sni and a URI SAN',
    yaml: `${CNN_SE}---\n${DR(
      '  trafficPolicy:\n    tls: {mode: MUTUAL, clientCertificate: /c/cert.pem, privateKey: /c/key.pem, caCertificates: /c/ca.pem, sni: api.cnn, subjectAltNames: ["spiffe://cnn/api"]}',
      'edition.cnn.com',
    )}`,
    name: 'outbound|443||edition.cnn.com',
    expected: {
      sni: 'api.cnn',
      alpn: [],
      origination: { caFile: '/c/ca.pem', certFile: '/c/cert.pem', keyFile: '/c/key.pem', subjectAltNames: [{ type: 'URI', value: 'spiffe://cnn/api' }] },
    },
  },
  {
    title: 'SIMPLE insecureSkipVerify: no validation context',
    yaml: `${CNN_SE}---\n${DR('  trafficPolicy: {tls: {mode: SIMPLE, insecureSkipVerify: true}}', 'edition.cnn.com')}`,
    name: 'outbound|80||edition.cnn.com',
    expected: { sni: 'edition.cnn.com', alpn: [], origination: { subjectAltNames: [] } },
  },
  {
    title: 'port-level ISTIO_MUTUAL does not leak to port 80',
    yaml: `${CNN_SE}---\n${DR('  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: SIMPLE}', 'edition.cnn.com')}`,
    name: 'outbound|80||edition.cnn.com',
    expected: undefined,
  },
];

for (const row of tlsRows) {
  test(`tls: ${row.title}`, (t) => {
    const { config } = cluster(snapshot(row.yaml), row.name);
    t.deepEqual(config.tls, row.expected);
  });
}

test('SIMPLE writes Envoy UpstreamTlsContext with file data sources and typed SAN matchers', (t) => {
  const { raw } = cluster(snapshot(`${CNN_SE}---\n${DR('  trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /ca.pem}}', 'edition.cnn.com')}`), 'outbound|443||edition.cnn.com');
  t.deepEqual(raw.transport_socket, {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': TYPED_CONFIG.upstreamTls,
      common_tls_context: {
        validation_context: { trusted_ca: { filename: '/ca.pem' }, match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: 'edition.cnn.com' } }] },
      },
      sni: 'edition.cnn.com',
    },
  });
});

test('HTTP2 and GRPC ServiceEntry ports: http2_protocol_options, plaintext h2c without a rule, ALPN h2 with SIMPLE; HTTP ports keep HTTP/1.1', (t) => {
  const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner}
spec:
  hosts: [api.partner.example]
  location: MESH_EXTERNAL
  ports:
  - {number: 8080, name: h2c, protocol: HTTP2}
  - {number: 8443, name: grpc-tls, protocol: GRPC}
  - {number: 443, name: https-origination, protocol: HTTP}
  resolution: DNS
---
${DR('  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 8443}\n      tls: {mode: SIMPLE, caCertificates: /ca.pem}\n    - port: {number: 443}\n      tls: {mode: SIMPLE, caCertificates: /ca.pem}', 'api.partner.example')}`;
  const snap = snapshot(se);
  const h2c = cluster(snap, 'outbound|8080||api.partner.example');
  t.deepEqual(h2c.config.upstreamHttp2, { allowConnect: false });
  t.is(h2c.config.tls, undefined);
  const grpcTls = cluster(snap, 'outbound|8443||api.partner.example');
  t.deepEqual(grpcTls.config.upstreamHttp2, { allowConnect: false });
  t.deepEqual((grpcTls.raw.transport_socket?.typed_config as { common_tls_context: { alpn_protocols?: string[] } }).common_tls_context.alpn_protocols, ['h2']);
  t.deepEqual(grpcTls.config.tls?.alpn, ['h2']);
  t.is(grpcTls.config.tls?.sni, 'api.partner.example');
  const h1 = cluster(snap, 'outbound|443||api.partner.example');
  t.is(h1.config.upstreamHttp2, undefined);
  t.deepEqual(h1.config.tls?.alpn, []);
});

test('DISABLE leaves remote-cluster endpoints out of EDS (plaintext cannot cross the gateway); auto mTLS keeps them', (t) => {
  const rows = (yaml: string) => (endpointsOf(sidecar, snapshot(yaml)).get(`outbound|9080||${REVIEWS}`)?.endpoints ?? []).flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address));
  t.deepEqual(rows('').sort(), ['127.0.1.1', '127.0.9.1']);
  t.deepEqual(rows(DR('  trafficPolicy: {tls: {mode: DISABLE}}')), ['127.0.1.1']);
});

test('DNS: STRICT_DNS with the hosts as names, mesh refresh rate and resolvers, no EDS', (t) => {
  const snap = snapshot(CNN_SE, { resolvers: [{ host: '127.66.9.1', port: 8600 }], refreshRateMs: 1500 });
  const { raw, config } = cluster(snap, 'outbound|80||edition.cnn.com');
  t.is(raw.type, 'STRICT_DNS');
  t.is(raw.eds_cluster_config, undefined);
  t.deepEqual(raw.dns_refresh_rate, { seconds: '1', nanos: 500_000_000 });
  t.deepEqual(raw.typed_dns_resolver_config?.typed_config.resolvers, [{ socket_address: { address: '127.66.9.1', port_value: 8600 } }]);
  t.is(config.type, 'STRICT_DNS');
  t.deepEqual(config.dns, { refreshRateMs: 1500, respectTtl: true, resolvers: [{ host: '127.66.9.1', port: 8600 }] });
  t.deepEqual(config.staticEndpoints?.map((e) => `${e.address.host}:${e.address.port}`), ['edition.cnn.com:80']);
  t.false(endpointsOf(sidecar, snap).has('outbound|80||edition.cnn.com'));
});

test('DNS_ROUND_ROBIN: LOGICAL_DNS with its one endpoint and target port; default refresh 60 s, system resolver', (t) => {
  const se = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.example]
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: api.service.consul}]`;
  const { raw, config } = cluster(snapshot(se), 'outbound|80||api.example');
  t.is(raw.type, 'LOGICAL_DNS');
  t.is(raw.typed_dns_resolver_config, undefined);
  t.deepEqual(config.dns, { refreshRateMs: 60_000, respectTtl: true, resolvers: [] });
  t.deepEqual(config.staticEndpoints?.map((e) => `${e.address.host}:${e.address.port}`), ['api.service.consul:8080']);
});

test('DNS clusters keep the traffic policy (lb, outlier detection, circuit breakers) and the proxyless client gets none', (t) => {
  const yaml = `${CNN_SE}---\n${DR('  trafficPolicy: {loadBalancer: {simple: RANDOM}, outlierDetection: {consecutive5xxErrors: 2}, connectionPool: {tcp: {maxConnections: 3}}}', 'edition.cnn.com')}`;
  const snap = snapshot(yaml);
  const { config } = cluster(snap, 'outbound|80||edition.cnn.com');
  t.is(config.lbPolicy, 'RANDOM');
  t.is(config.outlierDetection?.consecutive5xx, 2);
  t.is(config.circuitBreakers?.maxConnections, 3);
  t.false(clustersOf(proxyNode('proxyless'), snap).has('outbound|80||edition.cnn.com'));
});
