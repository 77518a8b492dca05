import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import anyTest, { type TestFn } from 'ava';
import { Agent, WebSocket } from 'undici';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { clientFrame, serverFrame } from '../support/websocket-frames.ts';
import { eventually, type FixtureMeshContext, fetchText, promQuery, samples, useFixtureMesh } from './support/mesh.ts';

/**
 * Every HTTP-family protocol across two clusters, with real clients against the compiled
 * `meshfed up` (test/e2e/fixtures/protocols/mesh.yaml): east's client sidecar → mTLS h2 → west's
 * east-west gateway (TLS passthrough) → west's sidecar → the app. nghttp (h2c from the app), curl
 * (HTTP/1.1), @grpc/grpc-js (unary and server streaming, an error status scraped by Prometheus as
 * grpc_response_status), undici's WebSocket client, and node:http2 opening a WebSocket with an RFC 8441
 * extended CONNECT (an h2c app). Addresses: 127.129.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const TOPOLOGY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'protocols', 'mesh.yaml');

useFixtureMesh(test, { block: 129, network: 'loopback', prometheus: true, topology: TOPOLOGY });

function workload(state: MeshState, clusterName: string, name: string) {
  const w = state.clusters.find((c) => c.name === clusterName)?.workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${clusterName}/${name}`);
  return w;
}

/** The client's outbound sidecar listener (host, port): where its app's traffic is captured. */
function outbound(state: MeshState): { host: string; port: number } {
  const s = workload(state, 'east', 'client').sidecar;
  if (!s) throw new Error('client has no sidecar');
  const i = s.outbound.lastIndexOf(':');
  return { host: s.outbound.slice(0, i), port: Number(s.outbound.slice(i + 1)) };
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // The client exits on its own; the timeout kills it by its PID if it hangs.
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): Record<string, unknown> => JSON.parse(b.toString('utf8')) as Record<string, unknown>,
};

test.serial('curl HTTP/1.1 from east reaches web in west across the gateway', async (t) => {
  const o = outbound(t.context.state);
  const body = await eventually('web imported into east', async () => {
    const r = await run('curl', ['-sS', '--http1.1', '-H', 'Host: web.default.svc.cluster.local:9080', '-w', '\n%{http_code}', `http://${o.host}:${o.port}/curl`]);
    return r.code === 0 && r.stdout.endsWith('\n200') ? r.stdout : undefined;
  }, 60_000);
  const reply = JSON.parse(body.slice(0, body.lastIndexOf('\n'))) as Record<string, unknown>;
  t.is(reply['cluster'], 'west');
  t.is(reply['workload'], 'web-v1');
  t.is(reply['peer'], 'spiffe://cluster.local/ns/default/sa/client');
});

test.serial('nghttp h2c from east reaches the http2 app in west, which its sidecar speaks HTTP/2 to', async (t) => {
  const o = outbound(t.context.state);
  const out = await eventually('h2echo imported into east', async () => {
    const r = await run('nghttp', ['-H', ':authority: h2echo.default.svc.cluster.local:9081', `http://${o.host}:${o.port}/nghttp`]);
    return r.code === 0 && r.stdout.includes('h2echo-v1') ? r.stdout : undefined;
  }, 60_000);
  const reply = JSON.parse(out) as { cluster: string; headers: Record<string, string> };
  t.is(reply.cluster, 'west');
  // The app saw HTTP/2 pseudo-headers: west's sidecar reached it over h2c, not HTTP/1.1.
  t.is(reply.headers[':scheme'], 'http');
});

test.serial('grpc-js unary and server-streaming calls cross the gateway; a NOT_FOUND status shows in Prometheus as grpc_response_status', async (t) => {
  const { state } = t.context;
  const o = outbound(state);
  const client = new grpc.Client(`${o.host}:${o.port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc-echo.default.svc.cluster.local:7070' });
  try {
    const unary = (req: object) =>
      new Promise<{ error: grpc.ServiceError | null; reply: Record<string, unknown> | undefined }>((resolve) =>
        client.makeUnaryRequest('/meshfed.echo.Echo/Echo', json.serialize, json.deserialize, req, (error, reply) => resolve({ error, reply })),
      );
    const ok = await eventually('grpc-echo imported into east', async () => {
      const r = await unary({ message: 'hello' });
      return r.error === null ? r.reply : undefined;
    }, 60_000);
    t.is(ok?.['workload'], 'grpc-echo-v1');
    t.is(ok?.['cluster'], 'west');

    const failed = await unary({ message: 'x', status: grpc.status.NOT_FOUND, details: 'no such thing' });
    t.is(failed.error?.code, grpc.status.NOT_FOUND);
    t.is(failed.error?.details, 'no such thing');

    const streamed = await new Promise<{ seqs: unknown[]; status: grpc.StatusObject }>((resolve) => {
      const seqs: unknown[] = [];
      const call = client.makeServerStreamRequest('/meshfed.echo.Echo/EchoStream', json.serialize, json.deserialize, { message: 's', count: 4 });
      call.on('data', (r: Record<string, unknown>) => seqs.push(r['seq']));
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => resolve({ seqs, status }));
    });
    t.is(streamed.status.code, grpc.status.OK);
    t.deepEqual(streamed.seqs, [0, 1, 2, 3]);
  } finally {
    client.close();
  }
  // Both sidecars count the error as a 200 with grpc_response_status 5; Prometheus scraped them.
  const src = await fetchText(workload(state, 'east', 'client').sidecar?.metrics ?? '');
  t.true(samples(src, 'istio_requests_total', { reporter: 'source', request_protocol: 'grpc', response_code: '200', grpc_response_status: '5' }).length > 0, src);
  const prom = state.prometheus ?? '';
  const series = await eventually('Prometheus scraped grpc_response_status', async () => {
    const r = await promQuery(prom, 'istio_requests_total{grpc_response_status="5",destination_service_name="grpc-echo"}');
    const reporters = new Set(r.map((s) => s.metric['reporter']));
    return reporters.has('source') && reporters.has('destination') ? r : undefined;
  }, 60_000);
  for (const s of series) {
    t.is(s.metric['response_code'], '200');
    t.is(s.metric['request_protocol'], 'grpc');
  }
  t.log(`Prometheus: ${series.map((s) => `${s.metric['reporter']} ${s.metric['source_cluster']}→${s.metric['destination_cluster']} = ${s.value}`).join('; ')}`);
});

test.serial('a WebSocket echo round trip from east to web in west (extended CONNECT on the mesh leg)', async (t) => {
  const o = outbound(t.context.state);
  const viaSidecar = new Agent({
    connect: (_opts, cb) => {
      const s = net.connect(o.port, o.host);
      s.once('connect', () => cb(null, s));
      s.once('error', (e) => cb(e, null));
    },
  });
  try {
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const w = new WebSocket('ws://web.default.svc.cluster.local:9080/ws', { dispatcher: viaSidecar });
      w.addEventListener('open', () => resolve(w));
      w.addEventListener('error', () => reject(new Error('websocket failed to open')));
    });
    const next = (): Promise<string> => new Promise((resolve) => ws.addEventListener('message', (e) => resolve(String(e.data)), { once: true }));
    const who = next();
    ws.send('whoami');
    t.like(JSON.parse(await who), { cluster: 'west', workload: 'web-v1' });
    const echoed = next();
    ws.send('across the gateway');
    t.is(await echoed, 'across the gateway');
    const closed = new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve(e.code), { once: true }));
    ws.close(1000);
    t.is(await closed, 1000);
  } finally {
    await viaSidecar.close();
  }
});

test.serial('a WebSocket from an h2c client (RFC 8441 extended CONNECT from the app) reaches web in west', async (t) => {
  const o = outbound(t.context.state);
  const session = http2.connect(`http://${o.host}:${o.port}`);
  try {
    const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':authority': 'web.default.svc.cluster.local:9080', ':path': '/ws', 'sec-websocket-version': '13' });
    const response = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve);
      stream.once('error', reject);
    });
    t.is(Number(response[':status']), 200);
    const who = serverFrame(stream);
    stream.write(clientFrame(0x1, Buffer.from('whoami')));
    t.like(JSON.parse((await who).payload), { cluster: 'west', workload: 'web-v1' });
    const echoed = serverFrame(stream);
    stream.write(clientFrame(0x1, Buffer.from('h2c across the gateway')));
    t.deepEqual(await echoed, { opcode: 1, payload: 'h2c across the gateway' });
    stream.end();
  } finally {
    session.close();
  }
});
