import { createHash, X509Certificate } from 'node:crypto';
import test from 'ava';
import {
  buildXfcc,
  decodePeerMetadata,
  encodePeerMetadata,
  h1ToH1RequestHeaders,
  h1ToH2RequestHeaders,
  httpAccessLogEntry,
  peerIdentityOf,
  responseHeadersForH1,
  sanitizeXfcc,
  selectInboundChain,
  tcpAccessLogEntry,
} from '../../src/sidecar/index.ts';
import { parseAccessLogEntry } from '../../src/mixer/index.ts';
import { fromStruct } from '../../src/xds/struct.ts';
import { createTestCa } from './support-certs.ts';
import { inboundListener } from './support-config.ts';

const h1ToH2Table: { name: string; headers: Record<string, string>; expect: Record<string, string | undefined> }[] = [
  {
    name: 'host becomes :authority (lower-cased)',
    headers: { host: 'Reviews:9080', accept: 'text/plain' },
    expect: { ':authority': 'reviews:9080', host: undefined, accept: 'text/plain', ':method': 'GET', ':path': '/p?q', ':scheme': 'http' },
  },
  {
    name: 'hop-by-hop headers are dropped',
    headers: { host: 'a', connection: 'keep-alive', 'keep-alive': 'timeout=5', 'proxy-connection': 'x', 'transfer-encoding': 'chunked', upgrade: 'h2c' },
    expect: { connection: undefined, 'keep-alive': undefined, 'proxy-connection': undefined, 'transfer-encoding': undefined, upgrade: undefined },
  },
  {
    name: 'headers named in Connection are dropped',
    headers: { host: 'a', connection: 'close, X-Private', 'x-private': 'secret', 'x-public': 'ok' },
    expect: { 'x-private': undefined, 'x-public': 'ok' },
  },
  { name: 'te: trailers survives', headers: { host: 'a', te: 'trailers' }, expect: { te: 'trailers' } },
  { name: 'te: gzip is dropped', headers: { host: 'a', te: 'gzip' }, expect: { te: undefined } },
];
for (const row of h1ToH2Table) {
  test(`h1→h2: ${row.name}`, (t) => {
    const out = h1ToH2RequestHeaders({ method: 'GET', path: '/p?q', headers: row.headers });
    for (const [k, v] of Object.entries(row.expect)) t.is(out[k], v, k);
  });
}

test('h1→h1 keeps Host and drops hop-by-hop headers', (t) => {
  const out = h1ToH1RequestHeaders({ method: 'GET', path: '/', headers: { host: 'a:1', connection: 'upgrade', upgrade: 'websocket', 'x-a': '1' } });
  t.deepEqual(out, { host: 'a:1', 'x-a': '1' });
});

test('h2 response → h1: pseudo-headers and hop-by-hop headers are dropped, set-cookie arrays kept', (t) => {
  const out = responseHeadersForH1({ ':status': '200', 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'], 'keep-alive': 'x' } as Record<string, string | string[]>);
  t.deepEqual(out, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
});

test('peer metadata round-trips; malformed values decode to undefined', (t) => {
  const m = { workload: 'reviews-v1', namespace: 'default', cluster: 'east', serviceAccount: 'reviews', app: 'reviews', version: 'v1' };
  t.deepEqual(decodePeerMetadata(encodePeerMetadata(m)), m);
  t.is(decodePeerMetadata('%%%not-base64-json'), undefined);
  t.is(decodePeerMetadata(Buffer.from('[1,2]').toString('base64')), undefined);
  t.is(decodePeerMetadata(undefined), undefined);
});

test('XFCC: client values are always stripped; set only when the chain says so', async (t) => {
  const ca = await createTestCa('east');
  try {
    const bundle = ca.issue('default', 'productpage');
    const leaf = new X509Certificate(bundle.certChainPem);
    const peer = peerIdentityOf(leaf);
    if (!peer.ok) return t.fail(peer.errors.join());
    const hash = createHash('sha256').update(leaf.raw).digest('hex');
    t.is(peer.value.leafSha256, hash);
    t.is(
      buildXfcc('spiffe://cluster.local/ns/default/sa/reviews', peer.value),
      `By=spiffe://cluster.local/ns/default/sa/reviews;Hash=${hash};URI=spiffe://cluster.local/ns/default/sa/productpage`,
    );
    const table: { setXfcc: boolean; incoming?: string; expect: string | undefined }[] = [
      { setXfcc: true, incoming: 'URI=spiffe://cluster.local/ns/x/sa/forged', expect: buildXfcc('spiffe://own', peer.value) },
      { setXfcc: true, expect: buildXfcc('spiffe://own', peer.value) },
      { setXfcc: false, incoming: 'URI=spiffe://cluster.local/ns/x/sa/forged', expect: undefined },
    ];
    for (const row of table) {
      const headers: Record<string, unknown> = row.incoming ? { 'x-forwarded-client-cert': row.incoming } : {};
      sanitizeXfcc(headers, row.setXfcc, 'spiffe://own', peer.value);
      t.is(headers['x-forwarded-client-cert'], row.expect);
    }
  } finally {
    await ca.dispose();
  }
});

test('inbound filter chain is chosen by the SNI port, falling back to the only chain', (t) => {
  const two = inboundListener('127.0.0.1', [9080, 9090]);
  const one = inboundListener('127.0.0.1', [9080]);
  const table: [listener: typeof two, sni: string | undefined, chain: string | undefined][] = [
    [two, 'outbound_.9090_._.reviews.default.svc.cluster.local', 'inbound|9090'],
    [two, 'outbound_.9080_.v1_.reviews.default.svc.cluster.local', 'inbound|9080'],
    [two, 'outbound_.7777_._.reviews.default.svc.cluster.local', undefined],
    [two, undefined, undefined],
    [one, 'outbound_.7777_._.reviews.default.svc.cluster.local', 'inbound|9080'],
    [one, 'garbage', 'inbound|9080'],
  ];
  for (const [listener, sni, chain] of table) t.is(selectInboundChain(listener, sni)?.name, chain, String(sni));
});

test('access log entry carries the meshfed struct Mixer reads', (t) => {
  const entry = httpAccessLogEntry({
    reporter: 'source',
    startTime: new Date(1_700_000_000_123),
    durationMs: 1500.5,
    downstreamRemote: { host: '127.0.0.1', port: 5555 },
    upstreamRemote: { host: '127.0.0.2', port: 15006 },
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    method: 'GET',
    path: '/x',
    authority: 'reviews',
    responseCode: 503,
    responseFlags: 'UF',
    protocol: 'HTTP11',
    sourceWorkload: 'productpage-v1',
    sourceNamespace: 'default',
    sourceCluster: 'east',
    destinationService: 'reviews.default.svc.cluster.local',
    destinationWorkload: 'unknown',
    destinationCluster: 'west',
    connectionSecurityPolicy: 'mutual_tls',
  }) as { common_properties: Record<string, unknown>; response: unknown; request: unknown };
  const cp = entry.common_properties as {
    start_time: unknown;
    time_to_last_downstream_tx_byte: unknown;
    response_flags: Record<string, boolean>;
    metadata: { filter_metadata: { meshfed: Parameters<typeof fromStruct>[0] } };
  };
  t.deepEqual(cp.start_time, { seconds: '1700000000', nanos: 123_000_000 });
  t.deepEqual(cp.time_to_last_downstream_tx_byte, { seconds: '1', nanos: 500_500_000 });
  t.true(cp.response_flags['upstream_connection_failure']);
  t.deepEqual(fromStruct(cp.metadata.filter_metadata.meshfed), {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_namespace: 'default',
    source_cluster: 'east',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_workload: 'unknown',
    destination_cluster: 'west',
    connection_security_policy: 'mutual_tls',
  });
  t.deepEqual(entry.request, { request_method: 'GET', path: '/x', authority: 'reviews' });
  t.deepEqual(entry.response, { response_code: { value: 503 } });
});

test('TCP access log entry: one per connection, response flags UF / UH / UO, bytes both ways, the mesh struct Mixer reads', (t) => {
  const base = {
    reporter: 'source' as const,
    startTime: new Date(1_700_000_000_000),
    durationMs: 20,
    upstreamCluster: 'outbound|9000||db.default.svc.cluster.local',
    receivedBytes: 5,
    sentBytes: 7,
    sourceWorkload: 'productpage-v1',
    sourceNamespace: 'default',
    sourceCluster: 'east',
    destinationService: 'db.default.svc.cluster.local',
    destinationWorkload: 'db-1',
    destinationCluster: 'west',
    connectionSecurityPolicy: 'mutual_tls',
  };
  const flagsOf = (f: string) => (tcpAccessLogEntry({ ...base, responseFlags: f }) as { common_properties: { response_flags: Record<string, boolean> } }).common_properties.response_flags;
  t.deepEqual(flagsOf('UF'), { upstream_connection_failure: true });
  t.deepEqual(flagsOf('UH'), { no_healthy_upstream: true });
  t.deepEqual(flagsOf('UO'), { upstream_overflow: true });
  t.deepEqual(flagsOf('-'), {});
  const entry = tcpAccessLogEntry({ ...base, responseFlags: '-' }) as { connection_properties: unknown; common_properties: { metadata: { filter_metadata: { meshfed: Parameters<typeof fromStruct>[0] } } } };
  t.deepEqual(entry.connection_properties, { received_bytes: '5', sent_bytes: '7' });
  t.like(fromStruct(entry.common_properties.metadata.filter_metadata.meshfed), { reporter: 'source', destination_workload: 'db-1', destination_cluster: 'west' });
  const parsed = parseAccessLogEntry(entry, 'tcp', undefined);
  t.true(parsed.ok, parsed.ok ? '' : parsed.errors.join('; '));
});
