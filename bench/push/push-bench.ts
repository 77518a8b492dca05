/**
 * `npm run bench:push`: how long a push takes to reach every proxy. One in-process Pilot
 * (createDiscoveryServer, the same composition `meshfed pilot` runs) serves a mesh of
 * `--services` services × `--replicas` local endpoints to `--proxies` real ADS clients
 * (src/xds/ads-client.ts: validates every resource, ACKs), run in `--procs` child processes over
 * loopback gRPC (127.79.200.1). Each trial changes something and measures, per proxy, the time
 * from the change (just before the file is written) to the proxy's ACK of the last response of
 * that push, as the server saw it (pilot_proxy_convergence_time's hook):
 * - config: a DestinationRule load balancer and a VirtualService timeout flip (CDS + RDS to all);
 * - endpoints: one replica moves to another address (EDS only, one assignment).
 * Both include the file watch and Pilot's 50 ms debounce. `--sidecar-hosts N` adds a namespace
 * Sidecar importing svc0 … svc<N-1> (a scoped variant). `--api delta|sotw|both` picks the proxies'
 * ADS protocol (default: the proxies' own default); `both` runs one after the other against the
 * same Pilot and prints them side by side. Children are stopped by PID.
 */
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { initCa, issueServingCertificate, loadCa } from '../../src/citadel/index.ts';
import { createDiscoveryServer } from '../../src/pilot/index.ts';
import { PROXY_ADS_API_DEFAULT } from '../../src/xds/index.ts';
import { BENCH_DIR, type BenchChild, ChildRegistry } from '../children.ts';
import { cpuSeconds, hostCpu, runqueueWaitSeconds } from '../proc-stats.ts';
import { pushMesh, workloadAddress } from './push-mesh.ts';
import { CpuProfiler, PROFILE_ENV } from './push-profile.ts';

function arg(name: string, dflt: number, min = 1): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < min) throw new Error(`invalid --${name}: must be an integer of at least ${min}`);
  return v;
}

const shape = { services: arg('services', 1000), replicas: arg('replicas', 10) };
const proxies = arg('proxies', 100);
const procs = arg('procs', 2);
const trials = arg('trials', 5);
// --sidecar-hosts N: a namespace Sidecar scopes every proxy to svc0 … svc<N-1> (0: none, the default).
const sidecarHosts = arg('sidecar-hosts', 0, 0);
if (sidecarHosts > shape.services) throw new Error('invalid --sidecar-hosts: at most --services');
if (proxies > shape.services) throw new Error('invalid --proxies: at most one proxy per service');
const say = (s: string): void => void process.stderr.write(`${s}\n`);
// --api delta|sotw|both: the proxies' ADS protocol (both: one after the other against the same Pilot).
const apiAt = process.argv.indexOf('--api');
const apiArg = apiAt >= 0 ? process.argv[apiAt + 1] : PROXY_ADS_API_DEFAULT === 'DELTA_GRPC' ? 'delta' : 'sotw';
if (apiArg !== 'delta' && apiArg !== 'sotw' && apiArg !== 'both') throw new Error('invalid --api: must be delta, sotw or both');
const apis: ('delta' | 'sotw')[] = apiArg === 'both' ? ['delta', 'sotw'] : [apiArg];
// --profile DIR: CPU profiles of Pilot and of every client process around each trial.
const profileAt = process.argv.indexOf('--profile');
const profileDir = profileAt >= 0 ? process.argv[profileAt + 1] : undefined;
if (profileAt >= 0 && (profileDir === undefined || profileDir.startsWith('--'))) throw new Error('invalid --profile: needs a folder');
if (profileDir !== undefined) {
  await mkdir(profileDir, { recursive: true });
  process.env[PROFILE_ENV] = path.resolve(profileDir);
}
const profiler = profileDir !== undefined ? new CpuProfiler(path.resolve(profileDir)) : undefined;

const children = new ChildRegistry();
const dir = await mkdtemp(path.join(os.tmpdir(), 'meshfed-bench-push-'));
let stop: (() => Promise<void>) | undefined;
const cleanup = async (): Promise<void> => {
  await Promise.allSettled([children.stopAll(), stop?.()]);
  await rm(dir, { recursive: true, force: true });
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().then(() => process.exit(130)));

type Results = Record<string, { all: number[]; last: number[]; fromPilot: number[] }>;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

try {
  await initCa({ dir: path.join(dir, 'ca'), clusters: ['east'], trustDomain: 'cluster.local' });
  const ca = await loadCa(path.join(dir, 'ca', 'east'));
  const serving = issueServingCertificate({
    ca,
    dnsNames: ['istiod.istio-system.svc'],
    ipAddresses: ['127.79.200.1'],
    spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/istiod',
    ttlSeconds: 3600,
  });
  const registryFile = path.join(dir, 'workloads.json');
  const configDir = path.join(dir, 'config');
  await mkdir(configDir);
  await writeFile(registryFile, JSON.stringify(pushMesh(shape)));
  if (sidecarHosts > 0) {
    const hosts = Array.from({ length: sidecarHosts }, (_, i) => `"./svc${i}.default.svc.cluster.local"`);
    await writeFile(
      path.join(configDir, 'sidecar.yaml'),
      `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\nspec:\n  egress:\n  - hosts: [${hosts.join(', ')}]\n`,
    );
  }

  let waiter: { want: number; seen: Map<string, number>; fromPilot: number[]; t0: number; done: () => void } | undefined;
  const server = await createDiscoveryServer({
    cluster: 'east',
    trustDomain: 'cluster.local',
    address: '127.79.200.1',
    registryFile,
    configDir,
    serving,
    clientRootsPem: ca.rootPem,
    ports: { xdsPlain: 0, xdsTls: 0 },
    metrics: new Registry(),
    logger: pino({ level: 'warn' }),
    observer: {
      pushed() {},
      pushTime() {},
      converged(seconds, node) {
        const w = waiter;
        if (!w || w.seen.has(node.id)) return;
        w.seen.set(node.id, performance.now() - w.t0);
        w.fromPilot.push(seconds * 1000);
        if (w.seen.size === w.want) w.done();
      },
    },
  });
  stop = () => server.close();
  await server.listen();
  const snap = server.pilot.snapshot();
  say(`mesh: ${snap.services.size} services, ${[...snap.endpoints.values()].reduce((n, l) => n + l.length, 0)} endpoints; ${proxies} proxies in ${procs} processes`);

  /** Starts the proxies of one API, runs every trial, stops them; results per change. */
  const runApi = async (api: 'delta' | 'sotw', offset: number): Promise<{ results: Results; connected: number }> => {
    const t0 = performance.now();
    const per = Math.ceil(proxies / procs);
    const started = [];
    const clientPids: number[] = [];
    for (let p = 0; p < procs; p++) {
      const first = p * per;
      const count = Math.min(per, proxies - first);
      if (count <= 0) break;
      const c = children.spawn(
        `push-clients-${api}-${p}`,
        process.execPath,
        ['--import', 'tsx', path.join(BENCH_DIR, 'push', 'push-clients.ts'), server.addresses.plain, String(first), String(count), api],
        { logFile: path.join(dir, `clients-${api}-${p}.log`), captureStdout: true },
      );
      clientPids.push(c.pid);
      clientChildren.push(c);
      started.push(once(c.child.stdout ?? c.child, 'data'));
    }
    await Promise.all(started);
    say(`${api}: initial config to every proxy: ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const serverCpuMs: number[] = [];
    /** Per trial: the client processes' CPU and run-queue wait, and how busy the whole machine was. */
    const clientStats: string[] = [];
    const toggleClientProfilers = (): void => {
      for (const pid of clientPids) process.kill(pid, 'SIGUSR2');
    };
    const trial = async (label: string, change: () => Promise<void>): Promise<{ all: number[]; fromPilot: number[] }> => {
      if (profiler) toggleClientProfilers();
      await new Promise((r) => setTimeout(r, 300));
      await profiler?.start();
      const seen = new Map<string, number>();
      const fromPilot: number[] = [];
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${seen.size}/${proxies} proxies converged in 30 s`)), 30_000);
        waiter = {
          want: proxies,
          seen,
          fromPilot,
          t0: performance.now(),
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
      const cpu0 = process.cpuUsage();
      const sum = (f: (pid: number) => number | undefined): number => clientPids.reduce((n, pid) => n + (f(pid) ?? 0), 0);
      const clients0 = { cpu: sum(cpuSeconds), wait: sum(runqueueWaitSeconds), host: hostCpu() };
      await change();
      await done;
      const host = hostCpu();
      const busy = (host.busy - clients0.host.busy) / Math.max(1, host.total - clients0.host.total);
      clientStats.push(
        `clients CPU ${(sum(cpuSeconds) - clients0.cpu).toFixed(1)} s, clients waiting for a CPU ${(sum(runqueueWaitSeconds) - clients0.wait).toFixed(1)} s, host busy ${(busy * 100).toFixed(0)}%`,
      );
      waiter = undefined;
      const cpu = process.cpuUsage(cpu0);
      if (profiler) {
        say(`profile: ${await profiler.stop(`pilot-${label}`)}`);
        toggleClientProfilers();
      }
      serverCpuMs.push((cpu.user + cpu.system) / 1000);
      return { all: [...seen.values()], fromPilot };
    };

    const results: Results = {
      config: { all: [], last: [], fromPilot: [] },
      endpoints: { all: [], last: [], fromPilot: [] },
    };
    for (let n = 0; n < trials; n++) {
      // Trials of every API get their own contents, so each one is a change.
      const i = n + offset;
      const lb = i % 2 === 0 ? 'LEAST_REQUEST' : 'ROUND_ROBIN';
      // Contents are made before the clock starts: a trial times the write, the watch and the push.
      const configText = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc0}\nspec:\n  host: svc0\n  trafficPolicy: {loadBalancer: {simple: ${lb}}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc0}\nspec:\n  hosts: [svc0]\n  http:\n  - route: [{destination: {host: svc0}}]\n    timeout: ${1000 + i}ms\n`;
      const cfg = await trial(`${api}-config${n}`, () => writeFile(path.join(configDir, 'svc0.yaml'), configText));
      results['config']?.all.push(...cfg.all);
      results['config']?.fromPilot.push(...cfg.fromPilot);
      results['config']?.last.push(Math.max(...cfg.all));
      // Scoped: the moved replica belongs to a service the proxies import, or no proxy would get a push.
      const moved = { service: (i * 37) % (sidecarHosts > 0 ? sidecarHosts : shape.services), replica: 1 + (i % (shape.replicas - 1 || 1)), address: `127.79.250.${10 + i}` };
      const registryText = JSON.stringify(pushMesh(shape, moved));
      const eps = await trial(`${api}-endpoints${n}`, () => writeFile(registryFile, registryText));
      results['endpoints']?.all.push(...eps.all);
      results['endpoints']?.fromPilot.push(...eps.fromPilot);
      results['endpoints']?.last.push(Math.max(...eps.all));
      say(`${api} trial ${n + 1}/${trials}: config last ACK ${Math.max(...cfg.all).toFixed(0)} ms (Pilot CPU ${serverCpuMs.at(-2)?.toFixed(0)} ms; ${clientStats.at(-2)}), endpoints last ACK ${Math.max(...eps.all).toFixed(0)} ms (Pilot CPU ${serverCpuMs.at(-1)?.toFixed(0)} ms; ${clientStats.at(-1)})`);
    }
    const connected = server.ads.status().filter((st) => st.api === api).length;
    const proxyChildren = [...clientChildren];
    clientChildren.length = 0;
    await Promise.all(proxyChildren.map((c) => children.stop(c)));
    return { results, connected };
  };
  const clientChildren: BenchChild[] = [];
  const byApi: { api: string; results: Results; connected: number }[] = [];
  for (const [k, api] of apis.entries()) byApi.push({ api, ...(await runApi(api, k * trials)) });
  say(
    '\n| api | change | proxies | p50 write → ACK | p99 write → ACK | median last ACK per trial | p50 Pilot change → ACK | p99 Pilot change → ACK |\n|---|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const { api, results, connected } of byApi) {
    for (const [name, r] of Object.entries(results)) {
      const all = [...r.all].sort((a, b) => a - b);
      const last = [...r.last].sort((a, b) => a - b);
      const fp = [...r.fromPilot].sort((a, b) => a - b);
      const ms = (v: number): string => `${v.toFixed(0)} ms`;
      say(`| ${api} | ${name} | ${connected} | ${ms(percentile(all, 50))} | ${ms(percentile(all, 99))} | ${ms(percentile(last, 50))} | ${ms(percentile(fp, 50))} | ${ms(percentile(fp, 99))} |`);
    }
  }
  say(`(${trials} trials each, ${shape.services} services × ${shape.replicas} endpoints${sidecarHosts > 0 ? `, namespace Sidecar importing ${sidecarHosts} hosts` : ''}; sample: ${workloadAddress(0, 0)})`);
} finally {
  await cleanup();
}
