import { z } from 'zod';

/**
 * What run.ts and its load-generator children exchange: the job goes in as one JSON argument, the
 * result comes back as the last line of the child's stdout. Both sides validate with these schemas.
 */

export const maxJobSchema = z.strictObject({
  url: z.string().url(),
  host: z.string().min(1).optional(),
  connections: z.number().int().min(1).max(1024),
  durationS: z.number().positive().max(3600),
});
export type MaxJob = z.infer<typeof maxJobSchema>;

export const maxResultSchema = z.strictObject({
  kind: z.literal('max'),
  requests: z.number().int().nonnegative(),
  durationS: z.number().positive(),
  rps: z.number().nonnegative(),
  status2xx: z.number().int().nonnegative(),
  non2xx: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  timeouts: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
  /** autocannon's own latency percentiles under full load, in ms (1 ms resolution). */
  latencyMs: z.strictObject({ p50: z.number(), p99: z.number(), max: z.number() }),
  /** CPU the load generator itself used during the run. */
  cpuSeconds: z.number().nonnegative(),
});
export type MaxResult = z.infer<typeof maxResultSchema>;

export const rateJobSchema = z.strictObject({
  url: z.string().url(),
  host: z.string().min(1).optional(),
  rate: z.number().int().min(1).max(100_000),
  durationS: z.number().positive().max(3600),
  warmupS: z.number().nonnegative().max(60),
  connections: z.number().int().min(1).max(256),
});
export type RateJob = z.infer<typeof rateJobSchema>;

const percentiles = z.strictObject({
  p50: z.number(),
  p90: z.number(),
  p99: z.number(),
  p999: z.number(),
  max: z.number(),
  mean: z.number(),
});
export type Percentiles = z.infer<typeof percentiles>;

export const rateResultSchema = z.strictObject({
  kind: z.literal('rate'),
  rate: z.number(),
  measured: z.number().int().nonnegative(),
  completed: z.number().int().nonnegative(),
  achievedRps: z.number().nonnegative(),
  non2xx: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  /** From the moment a request is handed to the client until its body has been read, in ms. */
  latencyMs: percentiles,
  /** How late each request was dispatched against its schedule, in ms (open loop: keep it small). */
  dispatchLagMs: percentiles,
  cpuSeconds: z.number().nonnegative(),
});
export type RateResult = z.infer<typeof rateResultSchema>;

/** Nearest-rank percentiles of `values` (sorted in place). Empty input gives zeros. */
export function summarize(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  values.sort((a, b) => a - b);
  const at = (q: number): number => values[Math.min(values.length - 1, Math.ceil(q * values.length) - 1)] ?? 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: values[values.length - 1] ?? 0, mean };
}

/** Parses a JSON command-line argument with `schema`; exits 2 with the issues on failure. */
export function parseJobArg<T>(schema: z.ZodType<T>, arg: string | undefined): T {
  let doc: unknown;
  try {
    doc = JSON.parse(arg ?? '');
  } catch {
    process.stderr.write('expected one JSON argument\n');
    process.exit(2);
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    process.stderr.write(`invalid job: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    process.exit(2);
  }
  return r.data;
}
