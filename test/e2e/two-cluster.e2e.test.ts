import { execFile } from 'node:child_process';
import http2 from 'node:http2';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import anyTest, { type TestFn } from 'ava';
import { initCa } from '../../src/citadel/index.ts';
import { type ConsulEndpoint, consulRequest } from '../../src/cli/runner/consul-http.ts';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { runProxylessCall } from '../support/proxyless-client.ts';
import { findTool } from '../support/tools.ts';
import { workloadCert } from './support/mesh-certs.ts';
import { eventually, fetchText, promQuery, request, samples, type FixtureMeshContext, useFixtureMesh } from './support/mesh.ts';

/**
 * The two-cluster mesh end to end, with real processes, real Consul (two WAN-joined datacenters),
 * real certificates from Citadel. Addresses: 127.120.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const REVIEWS = 'http://reviews.default.svc.cluster.local:9080/';
const RATINGS = 'http://ratings.default.svc.cluster.local:9080/';

useFixtureMesh(test, { block: 120, network: 'loopback', prometheus: true });

function cluster(state: MeshState, name: string) {
  const c = state.clusters.find((x) => x.name === name);
  if (!c) throw new Error(`no cluster ${name}`);
  return c;
}

function workload(state: MeshState, clusterName: string, name: string) {
  const w = cluster(state, clusterName).workloads.find((x) => x.name === name);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

test.serial('a call from east reaches the exported service in west through sidecar, gateway and sidecar', async (t) => {
  const body = await eventually('ratings imported into east', async () => {
    const res = await request(t.context.state, 'east/default/client', RATINGS);
    return res.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
  }, 45_000);
  t.is(body['cluster'], 'west');
  t.is(body['workload'], 'ratings-v1');
  t.is(body['peer'], 'spiffe://cluster.local/ns/default/sa/client');
  const headers = body['headers'] as Record<string, string>;
  t.regex(headers['x-forwarded-client-cert'] ?? '', /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/ratings;Hash=[0-9a-f]{64};URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/);
});

test.serial("west's sidecar metrics show the cross-cluster call as mutual TLS from east", async (t) => {
  const ratings = workload(t.context.state, 'west', 'ratings-v1');
  const text = await eventually('metrics', async () => {
    const txt = await fetchText(ratings.sidecar?.metrics ?? '');
    return samples(txt, 'istio_requests_total', { source_cluster: 'east' }).length > 0 ? txt : undefined;
  });
  const matching = samples(text, 'istio_requests_total', {
    reporter: 'destination',
    source_workload: 'client',
    source_cluster: 'east',
    destination_cluster: 'west',
    connection_security_policy: 'mutual_tls',
    response_code: '200',
  });
  t.true(matching.length > 0 && (matching[0] ?? 0) >= 1, text.split('\n').filter((l) => l.startsWith('istio_requests_total')).join('\n'));
  t.true(samples(text, 'istio_request_duration_milliseconds_count', { source_cluster: 'east', destination_cluster: 'west' }).length > 0);
});

test.serial('the gateway refuses an SNI for a service that was not exported', async (t) => {
  const st = t.context.state;
  const [host, port] = cluster(st, 'west').gateway.address.split(':');
  const creds = await workloadCert(path.join(st.stateDir, 'ca'), 'east', { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' });
  const handshake = (servername: string) =>
    new Promise<'connected' | string>((resolve) => {
      const s = tls.connect({ host, port: Number(port), servername, ...creds, ALPNProtocols: ['h2'], checkServerIdentity: () => undefined });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e) => resolve(e.message));
      s.once('close', () => resolve('closed'));
      s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    });
  // Positive control: the exported service's SNI is passed through to west's ratings sidecar.
  t.is(await handshake('outbound_.9080_._.ratings.default.svc.cluster.local'), 'connected');
  const refused = await handshake('outbound_.9080_._.secret.default.svc.cluster.local');
  t.not(refused, 'connected');
  const res = await request(st, 'east/default/client', 'http://secret.default.svc.cluster.local:9080/');
  t.true(res.status >= 400, `secret answered ${res.status}`);
});

/**
 * One HTTP/2 GET over TLS for reviews (`:authority` its name, as a mesh caller sends it: Node
 * would send the SNI, which the inbound answers with 421); resolves with the status, rejects on
 * any failure (never hangs).
 */
async function h2Get(url: string, opts: tls.ConnectionOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, { ...opts, checkServerIdentity: () => undefined } as http2.SecureClientSessionOptions);
    const fail = (e: Error): void => {
      session.destroy();
      reject(e);
    };
    const timer = setTimeout(() => fail(new Error('timeout')), 5000);
    session.on('error', fail);
    session.on('close', () => fail(new Error('session closed before a response')));
    const req = session.request({ ':path': '/', ':method': 'GET', ':authority': 'reviews.default.svc.cluster.local:9080' });
    req.on('response', (h) => {
      clearTimeout(timer);
      resolve(Number(h[':status']));
      session.close();
    });
    req.on('error', fail);
    req.on('close', () => fail(new Error('stream closed before a response')));
    req.end();
  });
}

test.serial("west's inbound refuses clients without a mesh certificate and with a foreign root", async (t) => {
  const st = t.context.state;
  const reviews = workload(st, 'west', 'reviews-v2');
  const url = `https://${reviews.sidecar?.inbound ?? ''}`;
  const caDir = path.join(st.stateDir, 'ca');
  const good = await workloadCert(caDir, 'east', { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' });
  // Positive control: a certificate from the mesh's CA is accepted.
  t.is(await h2Get(url, { ...good, servername: 'outbound_.9080_._.reviews.default.svc.cluster.local' }), 200);
  await t.throwsAsync(h2Get(url, { ca: good.ca, servername: 'outbound_.9080_._.reviews.default.svc.cluster.local' }));
  const rogueDir = await mkdtemp(path.join(tmpdir(), 'meshfed-rogue-'));
  t.teardown(() => rm(rogueDir, { recursive: true, force: true }));
  await initCa({ dir: rogueDir, clusters: ['east'], trustDomain: 'cluster.local' });
  const rogue = await workloadCert(rogueDir, 'east', { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'client' });
  await t.throwsAsync(h2Get(url, { key: rogue.key, cert: rogue.cert, ca: good.ca, servername: 'outbound_.9080_._.reviews.default.svc.cluster.local' }));
});

test.serial('a proxyless @grpc/grpc-js-xds client resolves a service through Pilot and reaches it', async (t) => {
  const east = cluster(t.context.state, 'east');
  const reply = await runProxylessCall({
    xdsServer: east.controlPlane.xds,
    target: 'grpc-echo.default.svc.cluster.local:7070',
    request: 'proxyless',
    node: { cluster: 'east' },
    timeoutMs: 20_000,
  });
  const body = JSON.parse(reply) as Record<string, unknown>;
  t.is(body['workload'], 'grpc-echo');
  t.is(body['cluster'], 'east');
  t.is(body['message'], 'proxyless');
});

test.serial('the 90/10 VirtualService split holds across clusters', async (t) => {
  const st = t.context.state;
  // Wait until v2 (in west) has been reached once, so the import is in place before counting.
  await eventually('reviews v2 reachable from east', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await request(st, 'east/default/client', REVIEWS);
      if (res.status === 200 && (JSON.parse(res.body) as { version?: string }).version === 'v2') return true;
    }
    return undefined;
  }, 45_000);
  const n = 600;
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await request(st, 'east/default/client', REVIEWS);
    t.is(res.status, 200);
    const b = JSON.parse(res.body) as { cluster: string; version: string };
    const key = `${b.cluster}/${b.version}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  t.log(counts);
  t.deepEqual(Object.keys(counts).sort(), ['east/v1', 'west/v2']);
  // Binomial(600, 0.1): σ ≈ 7.3 requests. Tolerance ±4σ = ±29 requests (±4.9 percentage points):
  // a correct split fails about once in 16,000 runs, while 80/20 (mean 120) can never pass.
  const v2 = counts['west/v2'] ?? 0;
  t.true(Math.abs(v2 - 60) <= 29, `v2 got ${v2}/600, expected 60 ± 29`);
});

test.serial("Mixer counts mesh-wide requests by source and destination cluster", async (t) => {
  const east = cluster(t.context.state, 'east');
  const west = cluster(t.context.state, 'west');
  const text = await eventually('mixer metrics', async () => {
    const txt = await fetchText(`${west.controlPlane.monitoring}/metrics`);
    return samples(txt, 'meshfed_mesh_requests_total', { source_cluster: 'east', destination_cluster: 'west' }).length > 0 ? txt : undefined;
  });
  const sum = samples(text, 'meshfed_mesh_requests_total', { source_cluster: 'east', destination_cluster: 'west' }).reduce((a, b) => a + b, 0);
  t.true(sum >= 1, text);
  t.truthy(east.consul, 'east runs its own Consul datacenter');
});

test.serial("each cluster's Consul is secured: HTTPS only, no anonymous writes, and a controller's token writes only its own datacenter", async (t) => {
  const east = cluster(t.context.state, 'east');
  const west = cluster(t.context.state, 'west');
  const endpoint = async (c: typeof east, withToken: boolean): Promise<ConsulEndpoint> => {
    const consul = c.consul;
    if (!consul?.tokenFile || !consul.caFile) throw new Error(`${c.name}: state.json has no Consul token and CA files`);
    const url = new URL(consul.http);
    t.is(url.protocol, 'https:');
    return {
      address: url.hostname,
      port: Number(url.port),
      caPem: await readFile(consul.caFile, 'utf8'),
      ...(withToken ? { token: (await readFile(consul.tokenFile, 'utf8')).trim() } : {}),
    };
  };
  const eastOwn = await endpoint(east, true);
  const plain = await consulRequest({ address: eastOwn.address, port: eastOwn.port }, 'GET', '/v1/catalog/services');
  t.is(plain.status, 400, 'plain HTTP is refused');
  const service = { ID: 'forged', Name: 'reviews', Tags: ['meshfed'], Address: '127.0.0.9', Port: 15443 };
  t.is((await consulRequest(await endpoint(east, false), 'PUT', '/v1/agent/service/register', service)).status, 403, 'no token, no registration');
  const westToken = await endpoint(west, true);
  const forged = { Node: 'east-server', Address: eastOwn.address, Service: { ID: 'forged', Service: 'reviews', Tags: ['meshfed'], Address: '127.0.0.9', Port: 15443 } };
  t.is((await consulRequest(westToken, 'PUT', '/v1/catalog/register?dc=east', forged)).status, 403, "west's token cannot write east's catalog");
  const imports = await consulRequest(eastOwn, 'GET', '/v1/catalog/services?dc=west');
  t.is(imports.status, 200);
  t.regex(imports.body, /"ratings"/, "east's token reads west's exports");
});

test.serial("no operator page of a sidecar, gateway or control plane holds a key, a bootstrap token or a Consul secret", async (t) => {
  const state = t.context.state;
  const secretFiles = (await readdir(state.stateDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && (/key\.pem$|\.token$/.test(e.name) || e.parentPath.endsWith(`${path.sep}tokens`) || /-consul\.json$/.test(e.name)))
    .map((e) => path.join(e.parentPath, e.name));
  const secrets = new Set<string>();
  for (const file of secretFiles) {
    const text = await readFile(file, 'utf8');
    if (file.endsWith('.pem')) secrets.add(text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '').slice(0, 48));
    else if (file.endsWith('-consul.json')) {
      const config = JSON.parse(text) as { encrypt?: string; acl?: { tokens?: Record<string, string> } };
      for (const v of [config.encrypt, ...Object.values(config.acl?.tokens ?? {})]) if (v) secrets.add(v);
    } else secrets.add(text.trim());
  }
  t.true(secrets.size >= 8, `secrets found: ${[...secretFiles].join(', ')}`);
  const pages = state.clusters.flatMap((c) => [
    `${c.controlPlane.monitoring}/metrics`,
    `${c.controlPlane.monitoring}/ready`,
    `${c.controlPlane.monitoring}/debug/configz`,
    `${c.controlPlane.monitoring}/debug/adsz`,
    `${c.gateway.admin}/config_dump`,
    c.gateway.metrics,
    ...c.workloads.flatMap((w) => (w.sidecar ? [`${w.sidecar.admin}/config_dump`, w.sidecar.metrics] : [])),
  ]);
  for (const url of pages) {
    const body = await fetchText(url);
    t.notRegex(body, /PRIVATE KEY/, url);
    for (const s of secrets) t.false(body.includes(s), `${url} holds a secret`);
  }
});

test.serial('the real Prometheus scrapes every sidecar, gateway and control plane, and sees the cross-cluster traffic', async (t) => {
  const prometheus = t.context.state.prometheus;
  if (!prometheus) return t.fail('meshfed up --prometheus wrote no prometheus URL into state.json');
  const sidecars = t.context.state.clusters.flatMap((c) => c.workloads.filter((w) => w.sidecar)).length;
  const targets = sidecars + 2 /* gateways */ + 2; /* control planes */
  const up = await eventually('every target scraped', async () => {
    const r = await promQuery(prometheus, 'up');
    return r.length === targets && r.every((s) => s.value === 1) ? r : undefined;
  });
  t.deepEqual([...new Set(up.map((s) => s.metric['job']))].sort(), ['envoy-stats', 'pilot']);
  await request(t.context.state, 'east/default/client', RATINGS);
  const q = 'sum by (source_cluster, destination_cluster, connection_security_policy) (istio_requests_total{reporter="destination", destination_service="ratings.default.svc.cluster.local"})';
  const series = await eventually('istio_requests_total in Prometheus', async () => {
    const r = await promQuery(prometheus, q);
    return r.length > 0 ? r : undefined;
  });
  t.deepEqual(series.map((s) => s.metric), [{ source_cluster: 'east', destination_cluster: 'west', connection_security_policy: 'mutual_tls' }]);
  t.true((series[0]?.value ?? 0) >= 1);
  const mesh = await eventually("Mixer's mesh-wide counter in Prometheus", async () => {
    const r = await promQuery(prometheus, 'sum(meshfed_mesh_requests_total{source_cluster="east", destination_cluster="west"})');
    return (r[0]?.value ?? 0) >= 1 ? r : undefined;
  });
  t.is(mesh.length, 1);
});

test.serial("promtool finds nothing in the sidecars', gateway's and control plane's expositions beyond Istio's and Envoy's own metric names", async (t) => {
  const ratings = workload(t.context.state, 'west', 'ratings-v1');
  const west = cluster(t.context.state, 'west');
  for (const url of [ratings.sidecar?.metrics ?? '', west.gateway.metrics, `${west.controlPlane.monitoring}/metrics`]) {
    const text = await fetchText(url);
    const findings = await promtoolCheckMetrics(text);
    // Istio's standard names are a contract (dashboards query them), so its milliseconds unit stays.
    // So are Envoy's stat names (`envoy_<stat>`, e.g. `downstream_cx_overflow`): Envoy exposes its
    // counters under their own names, without a `_total` suffix, and Istio's dashboards query them so.
    const unexpected = findings.filter(
      (f) => !/^istio_request_duration_milliseconds use base unit "seconds"/.test(f) && !/^envoy_[a-z0-9_]+ counter metrics should have "_total" suffix$/i.test(f),
    );
    t.deepEqual(unexpected, [], url);
  }
});

function promtoolCheckMetrics(text: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(findTool('promtool'), ['check', 'metrics'], (err, stdout, stderr) => {
      const lines = `${stdout}${stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      // Exit code 3 means lint findings (listed); anything else non-zero is a failure to run.
      if (err && err.code !== 3) reject(err);
      else resolve(lines);
    });
    child.stdin?.end(text);
  });
}
