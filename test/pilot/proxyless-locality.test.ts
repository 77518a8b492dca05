import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { ECHO_SERVICE, type EchoMessage } from '../support/proxyless-client.ts';
import { runAds } from '../xds/support/ads-harness.ts';
import { TestGenerator } from '../xds/support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * DestinationRule locality priorities reach proxyless gRPC clients: Pilot's generated proxyless
 * resources, served over ADS to a real @grpc/grpc-js-xds client (one channel, sequential calls).
 * Without a rule both backends share priority 0 and round robin splits the calls; with
 * `failoverPriority: [version=v2]` (and outlierDetection, as Istio requires) echo-v2 is priority 0
 * and takes every call; once it is down the client fails over to priority 1, echo-v1.
 *
 * This file owns 127.68.2.0/24: echo-v1 at 127.68.2.11:7070, echo-v2 at 127.68.2.12:7070.
 */
const HOST = 'echo.default.svc.cluster.local';
const PORT = 7070;
const BACKENDS = { 'echo-v1': '127.68.2.11', 'echo-v2': '127.68.2.12' } as const;
const CALLS = 20;

/** A gRPC echo backend on `address:7070` whose replies name it. */
async function startBackend(t: ExecutionContext, name: string, address: string): Promise<{ stop(): void }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (_call: grpc.ServerUnaryCall<unknown, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => cb(null, { message: name }),
  });
  await new Promise<number>((resolve, reject) => server.bindAsync(`${address}:${PORT}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    server.forceShutdown();
  };
  t.teardown(stop);
  return { stop };
}

/** Pilot's proxyless resources for the echo service, with `dr` (DestinationRule YAML) if given. */
function proxylessGenerator(dr?: string): TestGenerator {
  const b = new SnapshotBuilder({ cluster: 'east' });
  for (const [name, address] of Object.entries(BACKENDS)) {
    b.workload(name, 'echo', PORT, { address, sidecar: false, protocol: 'grpc', labels: { app: 'echo', version: name.slice('echo-'.length) } });
  }
  if (dr) b.yaml(dr);
  const snap = b.build();
  const gen = new TestGenerator();
  for (const typeUrl of Object.values(TYPE_URL) as XdsTypeUrl[]) {
    gen.set(
      typeUrl,
      generate(proxyNode('proxyless'), typeUrl, snap).map((r) => r.resource),
    );
  }
  return gen;
}

/** `count` sequential calls on one proxyless channel (a child process, killed by PID on timeout). */
function calls(xdsServer: string, count: number): Promise<string[]> {
  const bootstrap = {
    xds_servers: [{ server_uri: xdsServer, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'sidecar~127.0.0.1~proxyless-client.default~default.svc.cluster.local', cluster: 'east', locality: {}, metadata: { GENERATOR: 'grpc', CLUSTER_ID: 'east', NAMESPACE: 'default' } },
  };
  const script = fileURLToPath(new URL('../support/proxyless-calls-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, `${HOST}:${PORT}`, String(count), '10000'], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, count * 10_000 + 5000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`proxyless child exited with ${code ?? signal}: ${err.trim()}`));
        return;
      }
      resolve(JSON.parse(out.trim()) as string[]);
    });
  });
}

function tally(replies: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) out[r] = (out[r] ?? 0) + 1;
  return out;
}

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failoverPriority: [version=v2]}}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 5s}
`;

test.serial('without a DestinationRule both backends share priority 0: round robin splits the calls', async (t) => {
  for (const [name, address] of Object.entries(BACKENDS)) await startBackend(t, name, address);
  const ads = await runAds(t, { gen: proxylessGenerator() });
  const counts = tally(await calls(ads.target, CALLS));
  // Round robin gives about 10/10 (the first calls go to whichever backend connects first); even a
  // random pick (binomial, σ ≈ 2.2) stays within ±4σ of 10, i.e. at least 2 each.
  t.log(`no rule, ${CALLS} calls: ${JSON.stringify(counts)}`);
  t.true((counts['echo-v1'] ?? 0) >= 2 && (counts['echo-v2'] ?? 0) >= 2, 'both backends answer');
});

test.serial('failoverPriority [version=v2]: every call to echo-v2 while it is up, echo-v1 once it is down', async (t) => {
  const backends = new Map<string, { stop(): void }>();
  for (const [name, address] of Object.entries(BACKENDS)) backends.set(name, await startBackend(t, name, address));
  const ads = await runAds(t, { gen: proxylessGenerator(DR) });
  const preferred = tally(await calls(ads.target, CALLS));
  t.log(`failoverPriority [version=v2], ${CALLS} calls: ${JSON.stringify(preferred)}`);
  t.deepEqual(preferred, { 'echo-v2': CALLS }, 'priority 0 takes every call');
  backends.get('echo-v2')?.stop();
  const failedOver = tally(await calls(ads.target, 10));
  t.log(`echo-v2 stopped, 10 calls: ${JSON.stringify(failedOver)}`);
  t.deepEqual(failedOver, { 'echo-v1': 10 }, 'the client fails over to priority 1');
});
