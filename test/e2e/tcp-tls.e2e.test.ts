import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import anyTest, { type TestFn } from 'ava';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { applyYaml, eventually, type FixtureMeshContext, fetchText, promQuery, samples, useFixtureMesh } from './support/mesh.ts';

/**
 * Raw TCP across two clusters through `meshfed up` (Consul, Prometheus): a real node socket
 * connects to east's client sidecar `0.0.0.0_9000` (the tcp-echo port, raw TCP by its port name),
 * which opens mesh mTLS (ALPN istio) to tcp-echo v2 in west through west's east-west gateway (SNI
 * passthrough) and v2's sidecar, or to v1 in east. VirtualService `tcp` rules pick the subsets.
 * Last, DestinationRule tls DISABLE on v1: plaintext to v1's sidecar (Istio's PERMISSIVE).
 * Addresses: 127.128.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const TOPOLOGY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'tcp-tls', 'mesh.yaml');
const SERVICE = 'tcp-echo.default.svc.cluster.local';
const CLIENT_PRINCIPAL = 'spiffe://cluster.local/ns/default/sa/client';

useFixtureMesh(test, { block: 128, network: 'loopback', prometheus: true, topology: TOPOLOGY });

function workload(state: MeshState, cluster: string, name: string) {
  const w = state.clusters.find((c) => c.name === cluster)?.workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${cluster}/${name} in state.json`);
  return w;
}

/** Connects to the client's sidecar on 9000, writes `payload`, half-closes, reads until closed. */
function echo(state: MeshState, payload: Buffer): Promise<Buffer> {
  const host = workload(state, 'east', 'client').address;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const c = net.connect({ host, port: 9000, allowHalfOpen: true }, () => c.end(payload));
    c.on('data', (d: Buffer) => chunks.push(d));
    c.on('error', reject);
    c.on('close', () => resolve(Buffer.concat(chunks)));
  });
}

/** Sum of a destination sidecar's `istio_tcp_connections_opened_total` with these labels. */
async function destinationOpened(state: MeshState, cluster: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await fetchText(workload(state, cluster, name).sidecar?.metrics ?? '');
  return samples(text, 'istio_tcp_connections_opened_total', { reporter: 'destination', ...labels }).reduce((a, b) => a + b, 0);
}

const vsTo = (routes: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo, namespace: default}
spec:
  hosts: [tcp-echo]
  tcp:
  - route:
${routes}`;

test.serial('bytes echo both ways across the east-west gateway; west sees the caller’s SPIFFE identity', async (t) => {
  const { state } = t.context;
  await applyYaml(t, vsTo('    - destination: {host: tcp-echo, subset: v2}'));
  const payload = Buffer.from(`${'meshfed raw tcp '.repeat(4096)}end`);
  const echoed = await eventually(
    'tcp-echo v2 reachable through the gateway',
    async () => {
      const before = await destinationOpened(state, 'west', 'tcp-echo-v2');
      const got = await echo(state, payload).catch(() => Buffer.alloc(0));
      const after = await destinationOpened(state, 'west', 'tcp-echo-v2');
      return got.length === payload.length && after > before ? got : undefined;
    },
    60_000,
  );
  t.true(echoed.equals(payload), 'every byte came back in order');
  const text = await fetchText(workload(state, 'west', 'tcp-echo-v2').sidecar?.metrics ?? '');
  const received = samples(text, 'istio_tcp_received_bytes_total', {
    reporter: 'destination',
    source_principal: CLIENT_PRINCIPAL,
    source_workload: 'client',
    source_cluster: 'east',
    destination_workload: 'tcp-echo-v2',
    destination_cluster: 'west',
    connection_security_policy: 'mutual_tls',
  });
  t.true(received.length > 0, 'west counts bytes from the caller’s SPIFFE ID');
  t.true((received[0] ?? 0) >= payload.length);
  const source = await fetchText(workload(state, 'east', 'client').sidecar?.metrics ?? '');
  const sent = samples(source, 'istio_tcp_sent_bytes_total', {
    reporter: 'source',
    destination_service: SERVICE,
    destination_cluster: 'west',
    destination_principal: 'spiffe://cluster.local/ns/default/sa/tcp-echo',
  });
  t.true(sent.length > 0 && (sent[0] ?? 0) >= payload.length, 'east counts the echoed bytes toward west, with west’s SPIFFE ID');
});

test.serial('tcp weighted route 80/20 across clusters (v1 east, v2 west): counts within ±12 points of 200 connections', async (t) => {
  const { state } = t.context;
  await applyYaml(t, vsTo('    - {destination: {host: tcp-echo, subset: v1}, weight: 80}\n    - {destination: {host: tcp-echo, subset: v2}, weight: 20}'));
  // The route took effect once east's v1 sees connections again (the previous rule sent none there).
  await eventually(
    'weighted tcp route pushed',
    async () => {
      const before = await destinationOpened(state, 'east', 'tcp-echo-v1');
      for (let i = 0; i < 10; i++) await echo(state, Buffer.from('probe'));
      return (await destinationOpened(state, 'east', 'tcp-echo-v1')) > before ? true : undefined;
    },
    30_000,
  );
  const v1Before = await destinationOpened(state, 'east', 'tcp-echo-v1');
  const v2Before = await destinationOpened(state, 'west', 'tcp-echo-v2');
  const n = 200;
  for (let i = 0; i < n; i++) {
    const got = await echo(state, Buffer.from(`conn ${i}`));
    t.is(got.toString(), `conn ${i}`);
  }
  // Destination counters are bumped when each connection opens, before its bytes echo back.
  const v1 = (await destinationOpened(state, 'east', 'tcp-echo-v1')) - v1Before;
  const v2 = (await destinationOpened(state, 'west', 'tcp-echo-v2')) - v2Before;
  t.log(`v1 (east) ${v1}, v2 (west) ${v2} of ${n}; expected 160/40 ± 24`);
  t.is(v1 + v2, n);
  t.true(Math.abs(v1 - 160) <= 24, `v1 got ${v1}`);
});

test.serial('Prometheus scrapes istio_tcp_* from both sidecars, with the caller identity at the destination', async (t) => {
  const prometheus = t.context.state.prometheus;
  if (!prometheus) return t.fail('meshfed up --prometheus wrote no prometheus URL into state.json');
  for (const name of ['istio_tcp_connections_opened_total', 'istio_tcp_connections_closed_total', 'istio_tcp_sent_bytes_total', 'istio_tcp_received_bytes_total']) {
    const series = await eventually(`${name} scraped`, async () => {
      const r = await promQuery(prometheus, `sum by (reporter) (${name}{destination_service="${SERVICE}"})`);
      return r.length === 2 ? r : undefined;
    }, 60_000);
    t.deepEqual(series.map((s) => s.metric['reporter']).sort(), ['destination', 'source'], name);
  }
  // Both reporters may already be scraped from east alone (v1 is there too): wait for west's own
  // destination series, which only appears once Prometheus has scraped west's sidecar.
  const byCaller = await eventually('west destination series with the caller principal scraped', async () => {
    const r = await promQuery(prometheus, `sum(istio_tcp_connections_closed_total{reporter="destination", source_principal="${CLIENT_PRINCIPAL}", destination_cluster="west"})`);
    return (r[0]?.value ?? 0) > 0 ? r : undefined;
  }, 60_000);
  t.true((byCaller[0]?.value ?? 0) > 0, 'west reports connections from the caller’s SPIFFE ID');
});

test.serial('PERMISSIVE raw TCP: with tls DISABLE on subset v1, east’s client reaches tcp-echo v1 in plaintext through v1’s sidecar, counted with connection_security_policy none', async (t) => {
  const { state } = t.context;
  await applyYaml(
    t,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo, namespace: default}
spec:
  host: tcp-echo
  subsets:
  - {name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: DISABLE}}}
  - {name: v2, labels: {version: v2}}
---
${vsTo('    - destination: {host: tcp-echo, subset: v1}')}`,
  );
  const payload = Buffer.from('plaintext through the sidecar');
  await eventually(
    'plaintext connections counted at v1’s sidecar',
    async () => {
      const got = await echo(state, payload).catch(() => Buffer.alloc(0));
      const plain = await destinationOpened(state, 'east', 'tcp-echo-v1', { connection_security_policy: 'none' });
      return got.equals(payload) && plain > 0 ? true : undefined;
    },
    30_000,
  );
  const before = await destinationOpened(state, 'east', 'tcp-echo-v1', { connection_security_policy: 'none', destination_service: SERVICE, source_principal: 'unknown' });
  const mtlsBefore = await destinationOpened(state, 'east', 'tcp-echo-v1', { connection_security_policy: 'mutual_tls' });
  for (let i = 0; i < 5; i++) t.is((await echo(state, Buffer.from(`plain ${i}`))).toString(), `plain ${i}`);
  t.is((await destinationOpened(state, 'east', 'tcp-echo-v1', { connection_security_policy: 'none', destination_service: SERVICE, source_principal: 'unknown' })) - before, 5);
  t.is(await destinationOpened(state, 'east', 'tcp-echo-v1', { connection_security_policy: 'mutual_tls' }), mtlsBefore, 'no mTLS connection to v1 any more');
});
