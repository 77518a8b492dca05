import http from 'node:http';
import test from 'ava';
import { httpAccessLogEntry } from '../../src/sidecar/index.ts';
import type { UriSanMatcher } from '../../src/xds/config-types.ts';
import { metricLine, startSidecarPair } from './support-pair.ts';
import { httpRequest, listenOn } from './support-config.ts';

/**
 * The client checks the server's identity (Envoy's `match_typed_subject_alt_names`): the outbound
 * sidecar dials a real inbound sidecar whose Citadel certificate says
 * spiffe://cluster.local/ns/default/sa/reviews; the cluster's `serverSans` decide whether that
 * server is the one the caller meant. A refusal is 503 UF with the reason, never reaches the app,
 * and counts `cluster.<name>.ssl.fail_verify_san`.
 */

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';

interface Row {
  name: string;
  serverSans?: UriSanMatcher[];
  status: number;
  failVerifySan: number;
}

const ROWS: Row[] = [
  { name: 'no known service accounts: any mesh identity (today’s behaviour)', status: 200, failVerifySan: 0 },
  { name: 'the right service account (exact) → 200', serverSans: [{ kind: 'exact', value: REVIEWS }], status: 200, failVerifySan: 0 },
  {
    name: 'one of several service accounts → 200',
    serverSans: [
      { kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/ratings' },
      { kind: 'exact', value: REVIEWS },
    ],
    status: 200,
    failVerifySan: 0,
  },
  { name: 'a prefix matcher over the namespace → 200', serverSans: [{ kind: 'prefix', value: 'spiffe://cluster.local/ns/default/' }], status: 200, failVerifySan: 0 },
  {
    name: 'an impostor: the endpoint runs as another service account → 503 UF and ssl.fail_verify_san',
    serverSans: [{ kind: 'exact', value: 'spiffe://cluster.local/ns/default/sa/ratings' }],
    status: 503,
    failVerifySan: 1,
  },
  {
    name: 'the same service account in another trust domain → 503 UF',
    serverSans: [{ kind: 'exact', value: 'spiffe://other.example/ns/default/sa/reviews' }],
    status: 503,
    failVerifySan: 1,
  },
  { name: 'a prefix of another namespace → 503 UF', serverSans: [{ kind: 'prefix', value: 'spiffe://cluster.local/ns/prod/' }], status: 503, failVerifySan: 1 },
];

ROWS.forEach((row, i) => {
  test.serial(row.name, async (t) => {
    let appHits = 0;
    const app = http.createServer((_req, res) => {
      appHits++;
      res.end('reviews');
    });
    const server = `127.171.1.${10 + i}`;
    const appPort = await listenOn(app, server);
    const pair = await startSidecarPair({
      client: `127.171.2.${10 + i}`,
      server,
      service: 'reviews',
      appPort,
      outbound: (c) => (row.serverSans && c.tls ? { ...c, tls: { ...c.tls, serverSans: row.serverSans } } : c),
    });
    try {
      const r = await httpRequest(pair.outbound, { headers: { host: 'reviews' } });
      t.is(r.status, row.status, r.body);
      const metrics = await (await fetch(`${pair.client.urls.metrics}/stats/prometheus`)).text();
      const line = metricLine(metrics, 'envoy_cluster_ssl_fail_verify_san', { cluster_name: pair.clusterName });
      if (row.failVerifySan === 0) {
        t.is(appHits, 1);
        t.is(line, undefined);
      } else {
        t.is(appHits, 0, 'a refused server never reaches its app');
        t.is(r.headers['x-meshfed-response-flags'], 'UF');
        t.regex(r.body, /server identity spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews is not one of the cluster's/);
        t.truthy(line, metrics);
        t.true(Number(line?.split(' ').pop()) >= row.failVerifySan);
      }
    } finally {
      await pair.close();
      await new Promise<void>((resolve) => app.close(() => resolve()));
    }
  });
});

test('the access-log entry of a refused upstream carries its upstream_transport_failure_reason', (t) => {
  const entry = httpAccessLogEntry({
    reporter: 'source',
    startTime: new Date(0),
    durationMs: 1,
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    method: 'GET',
    path: '/',
    authority: 'reviews',
    responseCode: 503,
    responseFlags: 'UF',
    upstreamTransportFailureReason: 'server identity spiffe://cluster.local/ns/default/sa/reviews is not one of the cluster\'s: spiffe://cluster.local/ns/default/sa/ratings',
    protocol: 'HTTP11',
    sourceWorkload: 'caller-v1',
    sourceNamespace: 'default',
    sourceCluster: 'east',
    destinationService: 'reviews.default.svc.cluster.local',
    destinationWorkload: 'unknown',
    destinationCluster: 'unknown',
    connectionSecurityPolicy: 'unknown',
  });
  const common = entry['common_properties'] as Record<string, unknown>;
  t.regex(String(common['upstream_transport_failure_reason']), /is not one of the cluster's/);
  t.deepEqual(common['response_flags'], { upstream_connection_failure: true });
});
