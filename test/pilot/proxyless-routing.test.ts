/**
 * Pilot's routing and traffic policy, proven with the real proxyless client: Pilot's own
 * generators over one snapshot, served by a real AdsServer, and @grpc/grpc-js-xds 1.14 clients in
 * child processes calling real grpc-js backends. Weighted clusters, header matches, retries, fault
 * delay and abort, route timeouts, ring hash and outlier detection each get a service of their own.
 *
 * Loopback block 127.69.x.y: backends on 127.69.10.1–127.69.10.40 (port 7070), the ADS server on
 * 127.69.10.254 (port 0).
 */
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { AdsServer } from '../../src/pilot/ads/index.ts';
import { generate, generationKey } from '../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../src/pilot/model/index.ts';
import { type BatchResult, runProxylessBatch } from '../support/proxyless-batch.ts';
import { ECHO_SERVICE, type EchoMessage } from '../support/proxyless-client.ts';
import { silent } from '../xds/support/ads-harness.ts';
import { SnapshotBuilder } from './support/snapshot-builder.ts';

const PORT = 7070;
const fqdn = (s: string) => `${s}.default.svc.cluster.local:${PORT}`;

/** What a backend does with the `attempt`-th call (1-based) carrying one message. */
type Behaviour = (message: string, attempt: number) => { fail?: grpc.status; delayMs?: number };

interface Backend {
  name: string;
  /** Calls received per message. */
  readonly calls: Map<string, number>;
  total(): number;
  close(): void;
}

async function startBackend(name: string, address: string, behave: Behaviour = () => ({})): Promise<Backend> {
  const calls = new Map<string, number>();
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<unknown, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      const req = call.request as Partial<EchoMessage> | null;
      const message = typeof req?.message === 'string' ? req.message : '';
      const attempt = (calls.get(message) ?? 0) + 1;
      calls.set(message, attempt);
      const b = behave(message, attempt);
      const answer = () => (b.fail !== undefined ? cb({ code: b.fail, details: `${name} fails` }) : cb(null, { message: `${name}: ${message}` }));
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    },
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address}:${PORT}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { name, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0), close: () => server.forceShutdown() };
}

const CONFIG = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: weighted}
spec:
  host: weighted
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: weighted}
spec:
  hosts: [weighted]
  http:
  - route:
    - {destination: {host: weighted, subset: v1}, weight: 80}
    - {destination: {host: weighted, subset: v2}, weight: 20}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: header}
spec:
  host: header
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: header}
spec:
  hosts: [header]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: header, subset: v2}}]
  - match: [{headers: {x-canary: {prefix: "yes"}}, uri: {prefix: /meshfed.echo}}]
    route: [{destination: {host: header, subset: v2}}]
  - match: [{queryParams: {debug: {exact: "1"}}}]
    route: [{destination: {host: header, subset: v2}}]
  - route: [{destination: {host: header, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: retry}
spec:
  hosts: [retry]
  http:
  - route: [{destination: {host: retry}}]
    retries: {attempts: 3, retryOn: unavailable}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: noretry}
spec:
  hosts: [noretry]
  http:
  - route: [{destination: {host: noretry}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fault}
spec:
  hosts: [fault]
  http:
  - match: [{headers: {x-fault: {exact: abort}}}]
    route: [{destination: {host: fault}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
  - match: [{headers: {x-fault: {exact: http}}}]
    route: [{destination: {host: fault}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
  - match: [{headers: {x-fault: {exact: delay}}}]
    route: [{destination: {host: fault}}]
    fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}}
  - route: [{destination: {host: fault}}]
    timeout: 300ms
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hash}
spec:
  host: hash
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 2048}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: outlier}
spec:
  host: outlier
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3, interval: 200ms, baseEjectionTime: 10m, maxEjectionPercent: 50}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: outlier}
spec:
  hosts: [outlier]
  http:
  - route: [{destination: {host: outlier}}]
    retries: {attempts: 0}
`;

interface Mesh {
  xds: string;
  backends: Map<string, Backend>;
  nacks: string[];
}

/** Backends by name, with the workload (service, address, labels) each one registers as. */
const BACKENDS: { name: string; service: string; address: string; version?: string; behave?: Behaviour }[] = [
  { name: 'weighted-v1', service: 'weighted', address: '127.69.10.1', version: 'v1' },
  { name: 'weighted-v2', service: 'weighted', address: '127.69.10.2', version: 'v2' },
  { name: 'header-v1', service: 'header', address: '127.69.10.3', version: 'v1' },
  { name: 'header-v2', service: 'header', address: '127.69.10.4', version: 'v2' },
  // Fails the first attempt of every message with UNAVAILABLE.
  { name: 'retry', service: 'retry', address: '127.69.10.5', behave: (_m, attempt) => (attempt === 1 ? { fail: grpc.status.UNAVAILABLE } : {}) },
  { name: 'noretry', service: 'noretry', address: '127.69.10.6', behave: (_m, attempt) => (attempt === 1 ? { fail: grpc.status.UNAVAILABLE } : {}) },
  // Answers calls whose message starts with `slow` after 3 s (the route's timeout is 300 ms).
  { name: 'fault', service: 'fault', address: '127.69.10.7', behave: (m) => (m.startsWith('slow') ? { delayMs: 3000 } : {}) },
  ...[1, 2, 3, 4].map((i) => ({ name: `hash-${i}`, service: 'hash', address: `127.69.10.${10 + i}` })),
  { name: 'outlier-good', service: 'outlier', address: '127.69.10.20' },
  { name: 'outlier-bad', service: 'outlier', address: '127.69.10.21', behave: () => ({ fail: grpc.status.UNAVAILABLE }) },
];

let meshPromise: Promise<Mesh> | undefined;
const cleanups: (() => void)[] = [];

function mesh(): Promise<Mesh> {
  meshPromise ??= (async () => {
    const backends = new Map<string, Backend>();
    const builder = new SnapshotBuilder({ cluster: 'east' });
    for (const b of BACKENDS) {
      const backend = await startBackend(b.name, b.address, b.behave);
      cleanups.push(() => backend.close());
      backends.set(b.name, backend);
      builder.workload(b.name, b.service, PORT, {
        address: b.address,
        sidecar: false,
        protocol: 'grpc',
        labels: { app: b.service, ...(b.version ? { version: b.version } : {}) },
      });
    }
    const snapshot: Snapshot = builder.yaml(CONFIG).build();
    const nacks: string[] = [];
    const ads = new AdsServer<Snapshot>({ generate, generationKey, snapshot, logger: silent, onNack: (_n, type, detail) => nacks.push(`${type}: ${detail}`) });
    const server = new grpc.Server();
    ads.addTo(server);
    cleanups.push(() => {
      ads.close();
      server.forceShutdown();
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.69.10.254:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return { xds: `127.69.10.254:${port}`, backends, nacks };
  })();
  return meshPromise;
}

test.after.always(() => {
  for (const c of cleanups) c();
});

function backendOf(r: BatchResult): string {
  return r.ok ? (r.reply.split(':')[0] ?? '') : `error ${r.code}`;
}

function counts(results: BatchResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[backendOf(r)] = (out[backendOf(r)] ?? 0) + 1;
  return out;
}

const batch = async (target: string, plan: Parameters<typeof runProxylessBatch>[0]['plan']) => {
  const m = await mesh();
  return runProxylessBatch({ xdsServer: m.xds, target: fqdn(target), plan, timeoutMs: 110_000 });
};

test.serial('weighted clusters: an 80/20 split is honoured by the proxyless client (±4σ)', async (t) => {
  const n = 1000;
  const results = await batch('weighted', { calls: Array.from({ length: n }, (_, i) => ({ message: `w${i}` })) });
  const c = counts(results);
  t.log(`${n} calls: ${JSON.stringify(c)}`);
  const v1 = c['weighted-v1'] ?? 0;
  const sigma = Math.sqrt(n * 0.8 * 0.2);
  t.is(v1 + (c['weighted-v2'] ?? 0), n, 'every call reached a weighted backend');
  t.true(Math.abs(v1 - 0.8 * n) <= 4 * sigma, `v1 got ${v1}, expected ${0.8 * n} ± ${(4 * sigma).toFixed(1)} (4σ)`);
  t.deepEqual((await mesh()).nacks, []);
});

test.serial('header matches: exact and prefix matches route to v2, the rest (and a query-parameter rule) to v1', async (t) => {
  const results = await batch('header', {
    calls: [
      ...Array.from({ length: 10 }, (_, i) => ({ message: `jason${i}`, headers: { 'end-user': 'jason' } })),
      ...Array.from({ length: 10 }, (_, i) => ({ message: `canary${i}`, headers: { 'x-canary': 'yes-please' } })),
      ...Array.from({ length: 10 }, (_, i) => ({ message: `other${i}`, headers: { 'end-user': 'jasonx', 'x-canary': 'no' } })),
    ],
  });
  t.deepEqual(results.slice(0, 10).map(backendOf), Array(10).fill('header-v2'));
  t.deepEqual(results.slice(10, 20).map(backendOf), Array(10).fill('header-v2'));
  t.deepEqual(results.slice(20).map(backendOf), Array(10).fill('header-v1'));
});

test.serial('retries: a call failing its first attempt with UNAVAILABLE succeeds on retry; without retries it fails', async (t) => {
  const m = await mesh();
  const retried = await batch('retry', { calls: Array.from({ length: 5 }, (_, i) => ({ message: `r${i}` })) });
  t.deepEqual(retried.map(backendOf), Array(5).fill('retry'));
  const server = m.backends.get('retry');
  t.deepEqual([...(server?.calls.entries() ?? [])], Array.from({ length: 5 }, (_, i) => [`r${i}`, 2]), 'each call took two attempts on the server');

  const plain = await batch('noretry', { calls: [{ message: 'n0' }] });
  t.deepEqual(plain.map(backendOf), [`error ${grpc.status.UNAVAILABLE}`]);
  t.is(m.backends.get('noretry')?.calls.get('n0'), 1);
});

test.serial('fault injection: gRPC and HTTP aborts and a delay hold calls back from the backend', async (t) => {
  const m = await mesh();
  const results = await batch('fault', {
    calls: [
      { message: 'abort', headers: { 'x-fault': 'abort' } },
      { message: 'http', headers: { 'x-fault': 'http' } },
      // The 5 s delay outlasts this call's 1.5 s deadline: the call never leaves the client.
      { message: 'delay', headers: { 'x-fault': 'delay' }, timeoutMs: 1500 },
      { message: 'plain' },
    ],
  });
  t.deepEqual(results.map(backendOf), [
    `error ${grpc.status.RESOURCE_EXHAUSTED}`,
    `error ${grpc.status.UNAVAILABLE}`,
    `error ${grpc.status.DEADLINE_EXCEEDED}`,
    'fault',
  ]);
  const server = m.backends.get('fault');
  t.deepEqual([...(server?.calls.keys() ?? [])].filter((k) => !k.startsWith('slow')), ['plain'], 'only the call without a fault reached the backend');
});

test.serial('route timeout: max_stream_duration ends a slow call with DEADLINE_EXCEEDED before the call deadline', async (t) => {
  const results = await batch('fault', { calls: [{ message: 'slow-1' }], callTimeoutMs: 20_000 });
  // The backend answers after 3 s, well within the call's own 20 s deadline: only the route's
  // 300 ms timeout (max_stream_duration) can end it with DEADLINE_EXCEEDED.
  t.deepEqual(results.map(backendOf), [`error ${grpc.status.DEADLINE_EXCEEDED}`]);
  t.is((await mesh()).backends.get('fault')?.calls.get('slow-1'), 1);
});

test.serial('ring hash: one x-user value always reaches the same backend, different values spread', async (t) => {
  const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
  const results = await batch('hash', { calls: users.flatMap((u) => Array.from({ length: 5 }, (_, k) => ({ message: `${u}-${k}`, headers: { 'x-user': u } }))) });
  const byUser = new Map<string, Set<string>>();
  results.forEach((r, i) => {
    const u = users[Math.floor(i / 5)] ?? '';
    const set = byUser.get(u) ?? new Set<string>();
    set.add(backendOf(r));
    byUser.set(u, set);
  });
  const sticky = [...byUser.entries()].filter(([, s]) => s.size === 1).length;
  const used = new Set(results.map(backendOf));
  t.log(`backends per user: all ${sticky}/${users.length} users sticky; backends used: ${JSON.stringify(counts(results))}`);
  t.is(sticky, users.length, 'every user stays on one backend');
  t.true([...used].every((b) => b.startsWith('hash-')));
  // 40 keys on 4 backends: all of them on two or fewer has a probability of about 6·2^-40.
  t.true(used.size >= 3, `40 users used ${used.size} backends`);
});

test.serial('outlier detection: the failing backend is ejected and calls then go to the healthy one', async (t) => {
  const m = await mesh();
  const results = await batch('outlier', {
    repeat: { message: 'o', max: 2000, streak: 20, streakPrefix: 'outlier-good', after: 50, pauseMs: 5 },
  });
  const c = counts(results);
  t.log(`${results.length} calls: ${JSON.stringify(c)}`);
  const bad = m.backends.get('outlier-bad');
  t.true((bad?.total() ?? 0) >= 3, 'the bad backend was tried before its ejection');
  // Round robin over two endpoints never gives 20 replies in a row from one while both are in.
  const tail = results.slice(-50);
  t.is(tail.length, 50);
  t.deepEqual(tail.map(backendOf), Array(50).fill('outlier-good'), 'after the ejection every call reaches the healthy backend');
  t.true(c[`error ${grpc.status.UNAVAILABLE}`] !== undefined, 'calls failed on the bad backend before it was ejected');
});
