/**
 * `npm run bench`: the same small GET four ways in one run (direct to a Node backend, through
 * nginx, through a meshfed sidecar pair over mTLS, and across clusters through the east-west
 * gateway), with max throughput, fixed-rate latency, and CPU and RSS of every proxy. Prints a
 * Markdown report and writes the raw numbers to bench/results/latest.json.
 *
 * Everything it starts is a child stopped by PID in `cleanup`, which runs on success, on error, on
 * SIGINT/SIGTERM and when the overall time budget runs out.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, type BenchChild, ChildRegistry, waitForPort } from './children.ts';
import { type LoadSettings, measurePath, type PathResult } from './measure.ts';
import { idleMemory, type MeshStartup, withLoadedMemory } from './memory.ts';
import { type BenchMesh, startBenchMesh } from './mesh.ts';
import { locateNginx, NGINX_HINT, startNginx } from './nginx.ts';
import { type BenchOptions, parseBenchOptions, USAGE } from './options.ts';
import { childPids, clkTck, hostCpu } from './proc-stats.ts';
import { compare, evaluateGoals, type RunMeta, renderMarkdown } from './report.ts';
import { type PathTarget, waitUntilServing } from './target.ts';

const BACKEND_DESCRIPTION =
  "meshfed's echo app (src/cli/apps/echo-http.ts: Node http server replying with a small JSON of its identity and the request headers); bench/backend.ts runs it for the direct and nginx paths, the mesh runs it as `meshfed echo` behind the sidecars.";

function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

let opts: BenchOptions;
try {
  const parsed = parseBenchOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  opts = parsed;
} catch (e: unknown) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  process.exit(2);
}

const children = new ChildRegistry();
let mesh: BenchMesh | undefined;
let cleaning: Promise<void> | undefined;

/** Stops the mesh and every child by PID. Safe to call more than once. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const m = mesh;
    mesh = undefined;
    await Promise.allSettled([m?.stop(), children.stopAll()]);
  })();
  return cleaning;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    say(`\n${sig}: stopping everything the benchmark started…`);
    void cleanup().then(() => process.exit(130));
  });
}

// Per path: warm-up, max run, fixed-rate run with their process start-ups; plus the mesh start-up.
const perPathS = opts.warmupS + opts.durationS + opts.rateDurationS + 1 + 30;
const budgetS = opts.paths.length * perPathS + 2 * opts.readyTimeoutS + 180;
const budget = setTimeout(() => {
  say(`overall time budget of ${Math.round(budgetS)} s exceeded: stopping everything`);
  void cleanup().then(() => process.exit(1));
}, budgetS * 1000);
budget.unref();

const settings: LoadSettings = {
  connections: opts.connections,
  durationS: opts.durationS,
  warmupS: opts.warmupS,
  rate: opts.rate,
  rateDurationS: opts.rateDurationS,
  rateConnections: opts.rateConnections,
};

/** Share of all cores busy over `ms` while the benchmark itself is idle: other load on the machine. */
async function backgroundBusyPct(ms: number): Promise<number> {
  const a = hostCpu();
  await new Promise((r) => setTimeout(r, ms));
  const b = hostCpu();
  return b.total > a.total ? (100 * (b.busy - a.busy)) / (b.total - a.total) : 0;
}
const backgroundBefore = await backgroundBusyPct(2000);
const loadBefore = os.loadavg()[0] ?? 0;

const workDir = await mkdtemp(path.join(os.tmpdir(), 'meshfed-bench-'));
await chmod(workDir, 0o755);
const logDir = path.join(workDir, 'logs');
await mkdir(logDir, { recursive: true });
const stateDir = opts.stateDir ?? path.join(workDir, 'mesh');
const results: PathResult[] = [];
let startup: MeshStartup | undefined;
/** Seconds the mesh settles after `up` before each component's idle RSS is read. */
const SETTLE_S = 3;
const wants = (id: PathTarget['id']): boolean => opts.paths.includes(id);

async function measureOrFail(target: PathTarget, extraLogs: string): Promise<void> {
  try {
    say(`▶ ${target.title}`);
    results.push(await measurePath(children, target, settings, logDir, say));
  } catch (e: unknown) {
    const reason = e instanceof Error ? e.message : String(e);
    say(`✗ ${target.title}: ${reason}`);
    results.push({ id: target.id, title: target.title, status: 'failed', reason: `${reason} (logs: ${extraLogs})` });
  }
}

/** `nginx -v` (which prints to stderr), e.g. "nginx/1.22.1". */
function nginxVersionText(bin: string | undefined): string | null {
  if (!bin) return null;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 5000 });
  return r.stderr.trim().replace(/^nginx version:\s*/, '') || 'nginx (version unknown)';
}

let failed = false;
try {
  const nginxBin = locateNginx();
  if (wants('direct') || wants('nginx')) {
    const host = `127.${opts.block}.200.1`;
    const port = 8080;
    const backend: BenchChild = children.spawn('backend', process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, 'backend.ts'), host, String(port)], {
      logFile: path.join(logDir, 'backend.log'),
    });
    await waitForPort(backend, host, port, 15_000);
    const backendProc = { name: 'backend', pid: backend.pid, kind: 'app' as const };

    if (wants('direct')) {
      await measureOrFail({ id: 'direct', title: 'direct', url: `http://${host}:${port}/`, processes: () => [backendProc] }, logDir);
    }
    if (wants('nginx')) {
      if (!nginxBin) {
        say(`✗ nginx: not installed; ${NGINX_HINT}`);
        results.push({ id: 'nginx', title: 'nginx', status: 'missing', reason: `nginx not installed; ${NGINX_HINT}` });
      } else {
        const nginxDir = path.join(workDir, 'nginx');
        const listen = { host: `127.${opts.block}.200.2`, port: 8080 };
        try {
          const nginx = await startNginx(children, nginxBin, nginxDir, listen, `${host}:${port}`);
          await measureOrFail(
            {
              id: 'nginx',
              title: 'nginx',
              url: `http://${listen.host}:${listen.port}/`,
              processes: () => [
                { name: 'nginx master', pid: nginx.pid, kind: 'nginx' },
                ...childPids(nginx.pid).map((pid) => ({ name: 'nginx worker', pid, kind: 'nginx' as const })),
                backendProc,
              ],
            },
            nginxDir,
          );
          await children.stop(nginx);
        } catch (e: unknown) {
          const reason = e instanceof Error ? e.message : String(e);
          say(`✗ nginx: ${reason}`);
          results.push({ id: 'nginx', title: 'nginx', status: 'failed', reason: `${reason} (logs: ${nginxDir})` });
        }
      }
    }
    await children.stop(backend);
  }

  if (wants('sidecars') || wants('cross-cluster')) {
    say(`▶ starting the mesh (${path.relative(process.cwd(), path.join(BENCH_DIR, 'mesh.yaml'))}, state in ${stateDir})`);
    try {
      mesh = await startBenchMesh({
        stateDir,
        block: opts.block,
        readyTimeoutMs: opts.readyTimeoutS * 1000,
        progress: (line) => say(`  ${line}`),
      });
    } catch (e: unknown) {
      const reason = `mesh did not come up: ${e instanceof Error ? e.message : String(e)}`;
      say(`✗ ${reason}`);
      for (const [id, title] of [
        ['sidecars', 'sidecar pair (mTLS h2)'],
        ['cross-cluster', 'cross-cluster via east-west gateway'],
      ] as const) {
        if (wants(id)) results.push({ id, title, status: 'failed', reason: `${reason} (logs: ${path.join(stateDir, 'logs')})` });
      }
    }
    if (mesh) {
      say(`  up took ${(mesh.upMs / 1000).toFixed(1)} s; reading idle RSS of every component after ${SETTLE_S} s`);
      startup = { upMs: mesh.upMs, settleS: SETTLE_S, components: await idleMemory(mesh.allProcesses(), SETTLE_S) };
      for (const target of [mesh.sidecars, mesh.crossCluster]) {
        if (!wants(target.id)) continue;
        try {
          say(`▶ ${target.title}: waiting for 200s through ${target.url} (Host ${target.host ?? ''})`);
          const ms = await waitUntilServing(target, opts.readyTimeoutS * 1000);
          say(`  serving after ${ms} ms`);
        } catch (e: unknown) {
          const reason = e instanceof Error ? e.message : String(e);
          say(`✗ ${reason}`);
          results.push({ id: target.id, title: target.title, status: 'failed', reason: `${reason} (logs: ${mesh.logDir})` });
          continue;
        }
        await measureOrFail(target, mesh.logDir);
      }
    }
  }

  const backgroundAfter = await backgroundBusyPct(2000);
  const meta: RunMeta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    clkTck: clkTck(),
    nginx: nginxVersionText(nginxBin),
    backend: BACKEND_DESCRIPTION,
    settings,
    notes: [
      `The load generator, every proxy, the backend and (mesh paths) the control planes all share these ${os.cpus().length} cores: absolute rps is bounded by that; compare ratios and CPU per request.`,
      `Other load on the machine while the benchmark was idle: ${backgroundBefore.toFixed(0)}% of all cores busy before, ${backgroundAfter.toFixed(0)}% after (1-min load average ${loadBefore.toFixed(1)} at start); anything above a few percent makes these numbers noisy.`,
      'autocannon times latency in whole milliseconds and its overallRate sends each second in a burst, so the fixed-rate latency run uses bench/load-fixed-rate.ts instead (open loop, sub-millisecond).',
    ],
  };
  const order = ['direct', 'nginx', 'sidecars', 'cross-cluster'];
  results.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  const comparison = compare(results);
  const goals = evaluateGoals(results, comparison);
  if (startup) startup = { ...startup, components: withLoadedMemory(startup.components, results) };
  process.stdout.write(`${renderMarkdown(meta, results, comparison, goals, startup)}\n`);
  await mkdir(path.dirname(opts.out), { recursive: true });
  await writeFile(opts.out, `${JSON.stringify({ meta, startup: startup ?? null, paths: results, comparison, goals }, null, 2)}\n`);
  say(`raw results: ${opts.out}`);
  failed = results.some((r) => r.status === 'failed');
} catch (e: unknown) {
  failed = true;
  say(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await cleanup();
  clearTimeout(budget);
}

// The control-plane and routing benchmarks, each its own child process, after the data paths.
if (!failed && opts.extras) {
  for (const script of ['route-matching.ts', 'citadel-signing.ts', path.join('push', 'push-bench.ts')]) {
    say(`running bench/${script}`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, script)], { stdio: 'inherit' });
    if (r.status !== 0) {
      failed = true;
      say(`bench/${script} failed (${r.status ?? r.signal})`);
    }
  }
}

if (failed || opts.keepLogs) {
  say(`logs kept in ${workDir}${opts.stateDir ? ` and ${opts.stateDir}/logs` : ''}`);
} else {
  await rm(workDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
