/**
 * Fixed-rate (open-loop, wrk2-style) load generator, a child of run.ts. Requests are scheduled
 * every 1/rate s whatever the previous responses are doing, over a pool of keep-alive connections;
 * a request whose turn comes while every connection is busy waits in the pool, and that wait counts
 * in its latency. Latency is timed with performance.now() (sub-millisecond), from dispatch until
 * the whole body has been read. The first `warmupS` seconds are sent but not recorded.
 *
 *   node --import tsx bench/load-fixed-rate.ts '{"url":"http://…/","rate":500,"durationS":10,"warmupS":1,"connections":8}'
 *
 * Prints one JSON line (RateResult) on stdout.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { parseJobArg, type RateResult, rateJobSchema, summarize } from './load-protocol.ts';

const job = parseJobArg(rateJobSchema, process.argv[2]);
const url = new URL(job.url);
const pool = new Pool(url.origin, {
  connections: job.connections,
  pipelining: 1,
  keepAliveTimeout: 60_000,
  headersTimeout: 10_000,
  bodyTimeout: 10_000,
});
const headers: Record<string, string> = job.host ? { host: job.host } : {};
const path = url.pathname + url.search;

const intervalMs = 1000 / job.rate;
const skip = Math.round(job.rate * job.warmupS);
const total = skip + Math.round(job.rate * job.durationS);
const latencies: number[] = [];
const lags: number[] = [];
let completed = 0;
let non2xx = 0;
let errors = 0;
let inflight = 0;
let cpu0 = process.cpuUsage();
let measureStart = 0;
let measureEnd = 0;

function fire(index: number, due: number): void {
  const t0 = performance.now();
  const recorded = index >= skip;
  if (recorded) lags.push(t0 - due);
  inflight++;
  pool
    .request({ path, method: 'GET', headers })
    .then(async (res) => {
      await res.body.text();
      const t1 = performance.now();
      if (!recorded) return;
      completed++;
      measureEnd = t1;
      if (res.statusCode < 200 || res.statusCode > 299) non2xx++;
      else latencies.push(t1 - t0);
    })
    .catch(() => {
      if (recorded) errors++;
    })
    .finally(() => {
      inflight--;
    });
}

await new Promise<void>((resolve) => {
  const start = performance.now();
  let next = 0;
  // A 1 ms timer is as fine as Node's timers go; every due request is sent on each tick.
  const timer = setInterval(() => {
    const now = performance.now();
    while (next < total && start + next * intervalMs <= now) {
      if (next === skip) {
        cpu0 = process.cpuUsage();
        measureStart = start + next * intervalMs;
      }
      fire(next, start + next * intervalMs);
      next++;
    }
    if (next >= total) {
      clearInterval(timer);
      resolve();
    }
  }, 1);
});

const drainDeadline = performance.now() + 15_000;
while (inflight > 0 && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 10));
const cpu = process.cpuUsage(cpu0);
const measured = total - skip;
// Requests still unanswered after the drain count as errors.
const unfinished = Math.max(0, measured - completed - errors);
const out: RateResult = {
  kind: 'rate',
  rate: job.rate,
  measured,
  completed,
  achievedRps: measureEnd > measureStart ? (completed * 1000) / (measureEnd - measureStart) : 0,
  non2xx,
  errors: errors + unfinished,
  latencyMs: summarize(latencies),
  dispatchLagMs: summarize(lags),
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
await pool.destroy();
process.exit(0);
