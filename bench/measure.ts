import path from 'node:path';
import { type ChildRegistry, sleep } from './children.ts';
import { runFixedRate, runMax } from './load.ts';
import type { MaxResult, RateResult } from './load-protocol.ts';
import { cpuSeconds, hostCpu, rssMiB, runqueueWaitSeconds } from './proc-stats.ts';
import { isProxy, type PathTarget, type WatchedProcess } from './target.ts';

/** Frozen run settings shared by every path, so that all paths see the same load. */
export interface LoadSettings {
  connections: number;
  durationS: number;
  warmupS: number;
  rate: number;
  rateDurationS: number;
  rateConnections: number;
}

export interface ProcessResult {
  name: string;
  kind: WatchedProcess['kind'];
  pid: number;
  proxy: boolean;
  /** CPU seconds used during the max-throughput run. */
  cpuSeconds: number | null;
  /** CPU seconds per 1,000 requests at max throughput; numerically equal to vCPU per 1k rps. */
  cpuPer1kReq: number | null;
  /** Average cores busy during the max-throughput run. */
  avgVcpu: number | null;
  /** CPU seconds per 1,000 requests during the fixed-rate run. */
  cpuPer1kReqAtRate: number | null;
  /** Seconds the main thread waited for a CPU while runnable during the max-throughput run. */
  cpuWaitS: number | null;
  /** Cores busy with no load at all (timers, xDS, telemetry flushes), measured after the runs. */
  idleVcpu: number | null;
  /** VmRSS after the max-throughput run, MiB. */
  rssMiB: number | null;
  /** VmRSS after the fixed-rate run, MiB. */
  rssAtRateMiB: number | null;
}

export interface PathResult {
  id: PathTarget['id'];
  title: string;
  status: 'ok' | 'missing' | 'failed';
  reason?: string;
  url?: string;
  host?: string;
  /** ms of 200-polling before the path served (mesh paths). */
  readyAfterMs?: number;
  max?: MaxResult;
  rate?: RateResult;
  /** Share of the whole machine's CPU busy during the max-throughput run (all cores), percent. */
  hostCpuBusyPct?: number;
  /** Mean response body bytes + headers as autocannon counted them. */
  bytesPerResponse?: number;
  processes?: ProcessResult[];
}

/** Seconds the fixed-rate run sends at its rate before it starts recording. */
const RATE_WARMUP_S = 1;

/** Seconds of no load over which each process's idle CPU is measured. */
const IDLE_S = 3;

type CpuSnapshot = Map<number, number | undefined>;

function snapshot(procs: readonly WatchedProcess[], read: (pid: number) => number | undefined = cpuSeconds): CpuSnapshot {
  return new Map(procs.map((p) => [p.pid, read(p.pid)]));
}

function delta(before: CpuSnapshot, after: CpuSnapshot, pid: number): number | null {
  const a = before.get(pid);
  const b = after.get(pid);
  return a === undefined || b === undefined ? null : b - a;
}

/**
 * Measures one path: a closed-loop warm-up (not recorded), the max-throughput run with CPU read
 * from /proc before and after, RSS after it, the fixed-rate latency run (CPU read again), then
 * 3 s without load for each process's idle CPU.
 */
export async function measurePath(
  children: ChildRegistry,
  target: PathTarget,
  s: LoadSettings,
  logDir: string,
  say: (line: string) => void,
): Promise<PathResult> {
  const log = path.join(logDir, `load-${target.id}.log`);
  const base = { url: target.url, ...(target.host ? { host: target.host } : {}) };

  if (s.warmupS > 0) {
    say(`  ${target.id}: warm-up ${s.warmupS} s`);
    await runMax(children, { ...base, connections: s.connections, durationS: s.warmupS }, log);
  }

  const procs = target.processes();
  say(`  ${target.id}: max throughput, ${s.connections} connections, ${s.durationS} s`);
  const host0 = hostCpu();
  const cpu0 = snapshot(procs);
  const wait0 = snapshot(procs, runqueueWaitSeconds);
  const max = await runMax(children, { ...base, connections: s.connections, durationS: s.durationS }, log);
  const cpu1 = snapshot(procs);
  const wait1 = snapshot(procs, runqueueWaitSeconds);
  const host1 = hostCpu();
  const rss = new Map(procs.map((p) => [p.pid, rssMiB(p.pid)]));

  say(`  ${target.id}: fixed rate ${s.rate} rps, ${s.rateConnections} connections, ${s.rateDurationS} s`);
  const rate = await runFixedRate(
    children,
    { ...base, rate: s.rate, durationS: s.rateDurationS, warmupS: RATE_WARMUP_S, connections: s.rateConnections },
    log,
  );
  const cpu2 = snapshot(procs);
  const rssAtRate = new Map(procs.map((p) => [p.pid, rssMiB(p.pid)]));

  // Idle cost: let the last responses and telemetry flushes settle, then measure with no load.
  await sleep(1000);
  const idle0 = snapshot(procs);
  await sleep(IDLE_S * 1000);
  const idle1 = snapshot(procs);

  const idleOf = (cpu: number | null): number | null => (cpu === null ? null : cpu / IDLE_S);
  const per1k = (cpu: number | null, requests: number): number | null =>
    cpu === null || requests === 0 ? null : cpu / (requests / 1000);
  // The fixed-rate CPU window includes its 1 s warm-up, so count those requests too.
  const rateRequests = rate.completed + Math.round(rate.rate * RATE_WARMUP_S);
  const processes: ProcessResult[] = procs.map((p) => {
    const cpu = delta(cpu0, cpu1, p.pid);
    const r = rss.get(p.pid);
    return {
      name: p.name,
      kind: p.kind,
      pid: p.pid,
      proxy: isProxy(p),
      cpuSeconds: cpu,
      cpuPer1kReq: per1k(cpu, max.requests),
      avgVcpu: cpu === null ? null : cpu / max.durationS,
      cpuPer1kReqAtRate: per1k(delta(cpu1, cpu2, p.pid), rateRequests),
      cpuWaitS: delta(wait0, wait1, p.pid),
      idleVcpu: idleOf(delta(idle0, idle1, p.pid)),
      rssMiB: r ?? null,
      rssAtRateMiB: rssAtRate.get(p.pid) ?? null,
    };
  });

  return {
    id: target.id,
    title: target.title,
    status: 'ok',
    ...base,
    max,
    rate,
    hostCpuBusyPct: host1.total > host0.total ? (100 * (host1.busy - host0.busy)) / (host1.total - host0.total) : 0,
    bytesPerResponse: max.requests > 0 ? max.bytes / max.requests : 0,
    processes,
  };
}
