import type { PathResult } from './measure.ts';
import type { MeshStartup } from './memory.ts';

/** Environment and settings printed above the tables and stored with the raw results. */
export interface RunMeta {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  clkTck: number;
  nginx: string | null;
  backend: string;
  settings: {
    connections: number;
    durationS: number;
    warmupS: number;
    rate: number;
    rateDurationS: number;
    rateConnections: number;
  };
  notes: string[];
}

export interface GoalResult {
  goal: string;
  measured: string;
  pass: boolean | null;
}

export interface Comparison {
  id: PathResult['id'];
  throughputRatio: number | null;
  addedP50Ms: number | null;
  addedP99Ms: number | null;
}

/** The goals of DESIGN/issue: proxy cost per sidecar, added median latency, kept throughput. */
export const GOALS = { vcpuPer1kRpsPerSidecar: 0.2, addedP50Ms: 0.5, throughputShare: 0.3 } as const;

const ok = (p: PathResult | undefined): p is PathResult & Required<Pick<PathResult, 'max' | 'rate' | 'processes'>> =>
  p?.status === 'ok' && p.max !== undefined && p.rate !== undefined && p.processes !== undefined;

export function compare(paths: readonly PathResult[]): Comparison[] {
  const direct = paths.find((p) => p.id === 'direct');
  return paths.map((p) => {
    if (!ok(p) || !ok(direct)) return { id: p.id, throughputRatio: null, addedP50Ms: null, addedP99Ms: null };
    return {
      id: p.id,
      throughputRatio: direct.max.rps > 0 ? p.max.rps / direct.max.rps : null,
      addedP50Ms: p.rate.latencyMs.p50 - direct.rate.latencyMs.p50,
      addedP99Ms: p.rate.latencyMs.p99 - direct.rate.latencyMs.p99,
    };
  });
}

export function evaluateGoals(paths: readonly PathResult[], cmp: readonly Comparison[]): GoalResult[] {
  const pair = paths.find((p) => p.id === 'sidecars');
  const c = cmp.find((x) => x.id === 'sidecars');
  const sidecars = ok(pair) ? pair.processes.filter((p) => p.kind === 'sidecar') : [];
  const cpu = sidecars.map((s) => s.cpuPer1kReq);
  const cpuKnown = cpu.length > 0 && cpu.every((v) => v !== null);
  return [
    {
      goal: `≤ ${GOALS.vcpuPer1kRpsPerSidecar} vCPU per 1k rps per sidecar (sidecar pair, max-throughput run)`,
      measured: cpuKnown ? sidecars.map((s) => `${shortName(s.name)} ${fix(s.cpuPer1kReq, 3)}`).join(', ') : 'n/a',
      pass: cpuKnown ? cpu.every((v) => v !== null && v <= GOALS.vcpuPer1kRpsPerSidecar) : null,
    },
    {
      goal: `≤ +${GOALS.addedP50Ms} ms p50 added by two sidecars (sidecar pair vs direct, fixed rate)`,
      measured: c?.addedP50Ms == null ? 'n/a' : `${signed(c.addedP50Ms)} ms`,
      pass: c?.addedP50Ms == null ? null : c.addedP50Ms <= GOALS.addedP50Ms,
    },
    {
      goal: `≥ ${GOALS.throughputShare * 100}% of direct throughput (sidecar pair)`,
      measured: c?.throughputRatio == null ? 'n/a' : pct(c.throughputRatio),
      pass: c?.throughputRatio == null ? null : c.throughputRatio >= GOALS.throughputShare,
    },
  ];
}

function fix(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined ? 'n/a' : v.toFixed(digits);
}
function signed(v: number): string {
  return `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(2)}`;
}
function pct(v: number): string {
  return `${(v * 100).toFixed(0)}%`;
}
function int(v: number): string {
  return Math.round(v).toLocaleString('en-US');
}
function shortName(name: string): string {
  return name.replace('/default/', '/');
}

/** Reasons a path's numbers need care: the fixed rate exceeded its capacity, or the generator lagged. */
function pathWarnings(p: PathResult & Required<Pick<PathResult, 'max' | 'rate'>>, rate: number): string[] {
  const w: string[] = [];
  if (p.rate.achievedRps < 0.95 * rate || p.rate.errors > 0) {
    w.push(
      `${p.title}: could not sustain ${rate} rps (achieved ${int(p.rate.achievedRps)} rps, ${p.rate.errors} unanswered); its latency is that of an overloaded path, queueing included.`,
    );
  }
  if (p.rate.dispatchLagMs.p99 > 2) {
    w.push(`${p.title}: the fixed-rate generator itself ran late (dispatch lag p99 ${fix(p.rate.dispatchLagMs.p99, 2)} ms): the machine was short of CPU.`);
  }
  return w;
}

/** The whole report as Markdown: settings, throughput/latency, proxy cost, context, goals. */
export function renderMarkdown(
  meta: RunMeta,
  paths: readonly PathResult[],
  cmp: readonly Comparison[],
  goals: readonly GoalResult[],
  startup?: MeshStartup,
): string {
  const s = meta.settings;
  const out: string[] = [];
  out.push(`## meshfed benchmark — ${meta.date}`);
  out.push('');
  out.push(`- Machine: ${meta.cpus} vCPU (${meta.cpuModel}), Node ${meta.node}, ${meta.nginx ?? 'nginx: not installed'}, CLK_TCK ${meta.clkTck}.`);
  out.push(`- Backend on every path: ${meta.backend}`);
  out.push(
    `- Max throughput: autocannon in a child process, ${s.connections} keep-alive connections, ${s.durationS} s after a ${s.warmupS} s warm-up; CPU from /proc/<pid>/stat before and after; RSS (VmRSS) after.`,
  );
  out.push(
    `- Latency: open-loop fixed rate of ${s.rate} rps for ${s.rateDurationS} s (after 1 s unrecorded) over ${s.rateConnections} keep-alive connections (undici, child process), timed with performance.now() from dispatch to last body byte.`,
  );
  for (const n of meta.notes) out.push(`- ${n}`);
  out.push('');

  out.push('### Throughput and latency');
  out.push('');
  out.push(`| path | max rps | errors / non-2xx | vs direct | p50 @${s.rate} rps | p99 @${s.rate} rps | added p50 | added p99 | host CPU busy | resp. bytes |`);
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of paths) {
    if (!ok(p)) {
      out.push(`| ${p.title} | ${p.status.toUpperCase()}: ${p.reason ?? ''} | | | | | | | | |`);
      continue;
    }
    const c = cmp.find((x) => x.id === p.id);
    const errs = `${p.max.errors + p.max.timeouts + p.rate.errors} / ${p.max.non2xx + p.rate.non2xx}`;
    out.push(
      `| ${p.title} | ${int(p.max.rps)} | ${errs} | ${c?.throughputRatio == null ? 'n/a' : pct(c.throughputRatio)} | ${fix(p.rate.latencyMs.p50, 2)} ms | ${fix(p.rate.latencyMs.p99, 2)} ms | ${p.id === 'direct' || c?.addedP50Ms == null ? '—' : `${signed(c.addedP50Ms)} ms`} | ${p.id === 'direct' || c?.addedP99Ms == null ? '—' : `${signed(c.addedP99Ms)} ms`} | ${fix(p.hostCpuBusyPct, 0)}% | ${fix(p.bytesPerResponse, 0)} |`,
    );
  }
  const warnings = paths.flatMap((p) => (ok(p) ? pathWarnings(p, s.rate) : []));
  if (warnings.length > 0) {
    out.push('');
    for (const w of warnings) out.push(`- ⚠ ${w}`);
  }
  out.push('');

  out.push('### Proxy cost');
  out.push('');
  out.push(
    `CPU-s per 1k requests is numerically the same as vCPU per 1k rps. "at max" is over the ${s.durationS} s max-throughput run, "at ${s.rate} rps" over the fixed-rate run. "waited for a CPU" is the main thread's run-queue wait (/proc/<pid>/schedstat) during the ${s.durationS} s max run: a large share means the proxy was starved of CPU rather than idle. "idle vCPU" is measured over 3 s with no load after the runs.`,
  );
  out.push('');
  out.push(
    `| path | process | vCPU per 1k rps at max | vCPU per 1k rps at ${s.rate} rps | avg vCPU at max | waited for a CPU at max | idle vCPU | RSS MiB |`,
  );
  out.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const p of paths) {
    if (!ok(p)) continue;
    for (const proc of p.processes.filter((x) => x.proxy)) {
      out.push(
        `| ${p.title} | ${shortName(proc.name)} (${proc.kind}) | ${fix(proc.cpuPer1kReq, 3)} | ${fix(proc.cpuPer1kReqAtRate, 3)} | ${fix(proc.avgVcpu, 2)} | ${fix(proc.cpuWaitS, 2)} s | ${fix(proc.idleVcpu, 3)} | ${fix(proc.rssMiB, 1)} |`,
      );
    }
  }
  out.push('');

  out.push('### Other processes during the max-throughput run (context)');
  out.push('');
  out.push('| path | process | vCPU per 1k rps at max | avg vCPU at max | waited for a CPU at max | RSS MiB |');
  out.push('|---|---|---:|---:|---:|---:|');
  for (const p of paths) {
    if (!ok(p)) continue;
    for (const proc of p.processes.filter((x) => !x.proxy)) {
      out.push(
        `| ${p.title} | ${shortName(proc.name)} (${proc.kind}) | ${fix(proc.cpuPer1kReq, 3)} | ${fix(proc.avgVcpu, 2)} | ${fix(proc.cpuWaitS, 2)} s | ${fix(proc.rssMiB, 1)} |`,
      );
    }
    out.push(
      `| ${p.title} | load generator (autocannon) | ${fix(p.max.cpuSeconds / (p.max.requests / 1000), 3)} | ${fix(p.max.cpuSeconds / p.max.durationS, 2)} | | |`,
    );
  }
  out.push('');

  if (startup) out.push(...renderStartup(startup, s.rate));

  out.push('### Goals');
  out.push('');
  out.push('| goal | measured | result |');
  out.push('|---|---|---|');
  for (const g of goals) out.push(`| ${g.goal} | ${g.measured} | ${g.pass === null ? 'n/a' : g.pass ? 'met' : 'NOT met'} |`);
  out.push('');
  return out.join('\n');
}

/** Start-up time of the mesh and every component's idle and loaded RSS. */
function renderStartup(st: MeshStartup, rate: number): string[] {
  const out: string[] = [];
  out.push('### Memory per component and start-up');
  out.push('');
  out.push(
    `\`up\` of bench/mesh.yaml took ${fix(st.upMs / 1000, 1)} s until every component was ready. "idle" is VmRSS ${st.settleS} s after that, before any load; "loaded" is the largest VmRSS read right after a path's max-throughput run or its ${rate} rps fixed-rate run (blank: no load run went through the process).`,
  );
  out.push('');
  out.push('| component | kind | idle RSS MiB | loaded RSS MiB |');
  out.push('|---|---|---:|---:|');
  for (const c of st.components) out.push(`| ${shortName(c.name)} | ${c.kind} | ${fix(c.idleMiB, 1)} | ${c.loadedMiB === null ? '' : fix(c.loadedMiB, 1)} |`);
  out.push('');
  return out;
}
