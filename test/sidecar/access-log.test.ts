import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { pino } from 'pino';
import { AccessLogStreamer, createDataPlane, type DataPlane, StaticCertificateSource } from '../../src/sidecar/index.ts';
import { ROUTE_OUTBOUND } from '../../src/xds/naming.ts';
import { serviceClient } from '../../src/xds/protos.ts';
import { fromStruct, type ProtoStruct } from '../../src/xds/struct.ts';
import { createTestCa, type TestCa } from './support-certs.ts';
import { closeHttp, endpoint, httpRequest, listenOn, outboundListener, proxyConfig, route } from './support-config.ts';

/** A plaintext hop (no mTLS) with access logs streamed to a fake Mixer ALS server on 127.61.5.1. */
const MIXER = '127.61.5.1';
const CLIENT = '127.61.5.2';
const APP = '127.61.5.3';
const logger = pino({ level: 'silent' });

interface AlsMessage {
  identifier?: { node?: { id?: string }; log_name?: string };
  http_logs?: { log_entry?: { common_properties?: { metadata?: { filter_metadata?: Record<string, ProtoStruct> }; upstream_cluster?: string }; response?: { response_code?: { value?: number } }; request?: { path?: string } }[] };
}

let ca: TestCa;
let plane: DataPlane;
let mixer: grpc.Server;
const received: AlsMessage[] = [];
let waiters: (() => void)[] = [];
const app = http.createServer((_req, res) => res.end('plain'));

test.before(async () => {
  ca = await createTestCa('east');
  mixer = new grpc.Server();
  mixer.addService(serviceClient('envoy.service.accesslog.v3.AccessLogService').service, {
    StreamAccessLogs: (call: grpc.ServerReadableStream<AlsMessage, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      call.on('data', (m: AlsMessage) => {
        received.push(m);
        for (const w of waiters) w();
        waiters = [];
      });
      call.on('end', () => cb(null, {}));
      call.on('error', () => undefined);
    },
  });
  await new Promise<void>((resolve, reject) =>
    mixer.bindAsync(`${MIXER}:15012`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  await listenOn(app, APP, 8080);
  plane = await createDataPlane({
    workload: { name: 'productpage-v1', namespace: 'default', serviceAccount: 'productpage', cluster: 'east', address: CLIENT, labels: {} },
    certificates: new StaticCertificateSource(ca.issue('default', 'productpage')),
    accessLog: { target: `${MIXER}:15012`, credentials: grpc.credentials.createInsecure(), flushIntervalMs: 50 },
    logger,
  });
  const cluster = 'outbound|8080||legacy.default.svc.cluster.local';
  const applied = await plane.applyConfig(
    proxyConfig({
      listeners: [outboundListener(CLIENT)],
      routes: [{ name: ROUTE_OUTBOUND, virtualHosts: [{ name: 'legacy', domains: ['legacy'], routes: [route('r', cluster)] }] }],
      clusters: [{ name: cluster, type: 'EDS', edsServiceName: cluster, lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000 }],
      endpoints: [{ clusterName: cluster, endpoints: [endpoint(APP, 8080, { workload: 'legacy-v1', namespace: 'default', cluster: 'east' })] }],
    }),
  );
  if (!applied.ok) throw applied.errors[0];
});

test.after.always(async () => {
  await plane?.close();
  await closeHttp(app);
  mixer?.forceShutdown();
  await ca?.dispose();
});

function entries(): NonNullable<NonNullable<AlsMessage['http_logs']>['log_entry']> {
  return received.flatMap((m) => m.http_logs?.log_entry ?? []);
}

test.serial('a plaintext request is logged to Mixer with the meshfed struct and the stream identifier', async (t) => {
  const reply = await httpRequest({ host: CLIENT, port: 15001 }, { path: '/legacy-path', headers: { host: 'legacy' } });
  t.is(reply.status, 200);
  t.is(reply.body, 'plain');
  while (!entries().some((e) => e.request?.path === '/legacy-path')) await new Promise<void>((r) => waiters.push(r));
  t.is(received[0]?.identifier?.log_name, 'meshfed');
  t.regex(received[0]?.identifier?.node?.id ?? '', /^sidecar~127\.61\.5\.2~productpage-v1\.default~/);
  const entry = entries().find((e) => e.request?.path === '/legacy-path');
  t.is(entry?.response?.response_code?.value, 200);
  t.is(entry?.common_properties?.upstream_cluster, 'outbound|8080||legacy.default.svc.cluster.local');
  t.deepEqual(fromStruct(entry?.common_properties?.metadata?.filter_metadata?.['meshfed']), {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_namespace: 'default',
    source_cluster: 'east',
    destination_service: 'legacy.default.svc.cluster.local',
    destination_workload: 'legacy-v1',
    destination_cluster: 'east',
    connection_security_policy: 'none',
  });
  const metrics = await (await fetch(`${plane.urls.metrics}/stats/prometheus`)).text();
  t.regex(metrics, /istio_requests_total\{[^}]*connection_security_policy="none"[^}]*\} 1/);
});

test('when Mixer is unreachable, entries beyond the buffer are dropped and counted, never blocking', (t) => {
  const streamer = new AccessLogStreamer({
    target: '127.61.5.9:15012',
    credentials: grpc.credentials.createInsecure(),
    node: { type: 'sidecar', ip: '127.61.5.9', workload: 'w', namespace: 'default', cluster: 'east', serviceAccount: 'sa', labels: {} },
    logger,
    maxBuffered: 2,
    batchSize: 100,
  });
  try {
    const record = {
      reporter: 'source' as const,
      startTime: new Date(),
      durationMs: 1,
      upstreamCluster: 'c',
      method: 'GET',
      path: '/',
      authority: 'a',
      responseCode: 200,
      responseFlags: '-',
      protocol: 'HTTP11' as const,
      sourceWorkload: 'w',
      sourceNamespace: 'default',
      sourceCluster: 'east',
      destinationService: 'd',
      destinationWorkload: 'unknown',
      destinationCluster: 'unknown',
      connectionSecurityPolicy: 'none',
    };
    for (let i = 0; i < 5; i++) streamer.log(record);
    t.is(streamer.dropped, 3);
    t.is(streamer.sent, 0);
  } finally {
    streamer.close();
  }
});
