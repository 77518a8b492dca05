import path from 'node:path';
import type { z } from 'zod';
import { BENCH_DIR, type ChildRegistry } from './children.ts';
import {
  type MaxJob,
  type MaxResult,
  maxResultSchema,
  type RateJob,
  type RateResult,
  rateResultSchema,
} from './load-protocol.ts';

/**
 * Runs one load-generator child (load-max.ts or load-fixed-rate.ts) and returns its validated
 * result. The child is killed by PID if it overruns its job by `graceS` seconds.
 */
async function runChild<T>(
  children: ChildRegistry,
  script: string,
  job: object,
  schema: z.ZodType<T>,
  budgetS: number,
  logFile: string,
): Promise<T> {
  const c = children.spawn(script, process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, script), JSON.stringify(job)], {
    logFile,
    captureStdout: true,
  });
  let stdout = '';
  c.child.stdout?.setEncoding('utf8');
  c.child.stdout?.on('data', (d: string) => {
    stdout += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void children.stop(c, 1000);
  }, budgetS * 1000);
  const code = await c.exited;
  clearTimeout(timer);
  if (timedOut) throw new Error(`${script} did not finish within ${budgetS} s (killed); see ${logFile}`);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  let doc: unknown;
  try {
    doc = JSON.parse(last);
  } catch {
    throw new Error(`${script} exited (${String(code)}) without a result; see ${logFile}`);
  }
  const r = schema.safeParse(doc);
  if (!r.success) throw new Error(`${script}: malformed result: ${r.error.issues.map((i) => i.message).join('; ')}`);
  return r.data;
}

export function runMax(children: ChildRegistry, job: MaxJob, logFile: string): Promise<MaxResult> {
  return runChild(children, 'load-max.ts', job, maxResultSchema, job.durationS + 30, logFile);
}

export function runFixedRate(children: ChildRegistry, job: RateJob, logFile: string): Promise<RateResult> {
  return runChild(children, 'load-fixed-rate.ts', job, rateResultSchema, job.durationS + job.warmupS + 30, logFile);
}
