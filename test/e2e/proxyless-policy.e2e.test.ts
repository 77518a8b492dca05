/**
 * The proxyless @grpc/grpc-js-xds client against the real Pilot of a running `meshfed up` (the
 * compiled CLI, its own processes): a VirtualService splitting 80/20 between two subsets and
 * routing a header to v2, a DestinationRule with a ring hash, and a policy the client cannot
 * honour (LEAST_REQUEST) that Pilot reports in /debug/configz and meshfed_pilot_proxyless_findings
 * instead of dropping it silently. One cluster with in-memory discovery (no federation is under
 * test). Addresses: 127.133.0.0/16 (`--address-block 133`).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startMeshfedUp, type UpProcessHandle } from '../support/meshfed-up.ts';
import { type BatchResult, runProxylessBatch } from '../support/proxyless-batch.ts';

const MESH = `apiVersion: meshfed.dev/v1alpha1
kind: LocalMesh
metadata: { name: proxyless }
spec:
  trustDomain: cluster.local
  clusters:
  - name: east
    workloads:
    - { name: grpc-echo-v1, namespace: default, serviceAccount: grpc-echo, sidecar: false,
        service: { name: grpc-echo, port: 7070, protocol: grpc }, labels: { app: grpc-echo, version: v1 }, app: echo }
    - { name: grpc-echo-v2, namespace: default, serviceAccount: grpc-echo, sidecar: false,
        service: { name: grpc-echo, port: 7070, protocol: grpc }, labels: { app: grpc-echo, version: v2 }, app: echo }
    - { name: grpc-echo-v2b, namespace: default, serviceAccount: grpc-echo, sidecar: false,
        service: { name: grpc-echo, port: 7070, protocol: grpc }, labels: { app: grpc-echo, version: v2 }, app: echo }
    config: [east/]
`;

const RULES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: grpc-echo, namespace: default}
spec:
  host: grpc-echo
  subsets:
  - {name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpc-echo, namespace: default}
spec:
  hosts: [grpc-echo]
  http:
  - match: [{headers: {x-user: {prefix: user-}}}]
    route: [{destination: {host: grpc-echo, subset: v2}}]
  - route:
    - {destination: {host: grpc-echo, subset: v1}, weight: 80}
    - {destination: {host: grpc-echo, subset: v2}, weight: 20}
`;

let mesh: UpProcessHandle | undefined;
let dir = '';

test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'meshfed-proxyless-'));
  await mkdir(path.join(dir, 'east'));
  await writeFile(path.join(dir, 'mesh.yaml'), MESH);
  await writeFile(path.join(dir, 'east', 'rules.yaml'), RULES);
  const stateDir = path.join(dir, 'state');
  mesh = await startMeshfedUp({
    label: 'e2e 133',
    stateDir,
    args: ['-f', path.join(dir, 'mesh.yaml'), '--state-dir', stateDir, '--discovery', 'memory', '--address-block', '133'],
    readyTimeoutMs: 120_000,
  });
});

test.after.always(async () => {
  const leftovers = (await mesh?.stop()) ?? [];
  await rm(dir, { recursive: true, force: true });
  if (leftovers.length > 0) throw new Error(`meshfed up left processes behind (killed by PID): ${leftovers.join(', ')}`);
});

function east() {
  const c = mesh?.state.clusters.find((x) => x.name === 'east');
  if (!c) throw new Error('no east cluster in state.json');
  return c;
}

const workloadOf = (r: BatchResult) => (r.ok ? (r.workload ?? '?') : `error ${r.code}`);

test.serial('from the real Pilot: 80/20 weights (±4σ), a header match, and ring-hash stickiness per x-user', async (t) => {
  const n = 400;
  const results = await runProxylessBatch({
    xdsServer: east().controlPlane.xds,
    target: 'grpc-echo.default.svc.cluster.local:7070',
    plan: {
      calls: [
        ...Array.from({ length: n }, (_, i) => ({ message: `w${i}` })),
        ...Array.from({ length: 60 }, (_, i) => ({ message: `h${i}`, headers: { 'x-user': `user-${i % 12}` } })),
      ],
    },
    timeoutMs: 110_000,
  });
  const weighted = results.slice(0, n).map(workloadOf);
  const counts: Record<string, number> = {};
  for (const w of weighted) counts[w] = (counts[w] ?? 0) + 1;
  t.log(`${n} calls: ${JSON.stringify(counts)}`);
  const v1 = counts['grpc-echo-v1'] ?? 0;
  const sigma = Math.sqrt(n * 0.8 * 0.2);
  t.is(v1 + (counts['grpc-echo-v2'] ?? 0) + (counts['grpc-echo-v2b'] ?? 0), n);
  t.true(Math.abs(v1 - 0.8 * n) <= 4 * sigma, `v1 got ${v1}, expected ${0.8 * n} ± ${(4 * sigma).toFixed(1)} (4σ)`);

  const byUser = new Map<string, Set<string>>();
  results.slice(n).forEach((r, i) => {
    const u = `user-${i % 12}`;
    byUser.set(u, (byUser.get(u) ?? new Set()).add(workloadOf(r)));
  });
  const targets = new Set([...byUser.values()].flatMap((s) => [...s]));
  t.log(`ring hash: ${JSON.stringify(Object.fromEntries([...byUser].map(([u, s]) => [u, [...s]])))}`);
  t.true([...targets].every((w) => w === 'grpc-echo-v2' || w === 'grpc-echo-v2b'), 'the header match routes to v2 only');
  t.true([...byUser.values()].every((s) => s.size === 1), 'each x-user value sticks to one v2 endpoint');
});

test.serial('the LEAST_REQUEST the client cannot run is reported by Pilot, not dropped silently', async (t) => {
  const monitoring = east().controlPlane.monitoring;
  const configz = (await (await fetch(`${monitoring}/debug/configz`)).json()) as { proxylessFindings?: string[] };
  t.deepEqual(configz.proxylessFindings, [
    'DestinationRule default/grpc-echo spec.subsets[0].trafficPolicy.loadBalancer.simple: not-sent for proxyless gRPC clients: grpc-js-xds NACKs lb_policy LEAST_REQUEST: proxyless clients get ROUND_ROBIN',
  ]);
  const metrics = await (await fetch(`${monitoring}/metrics`)).text();
  t.regex(metrics, /meshfed_pilot_proxyless_findings\{effect="not-sent"\} 1/);
});
