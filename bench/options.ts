import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './children.ts';
import type { LoadSettings } from './measure.ts';
import type { PathTarget } from './target.ts';

export const PATH_IDS: readonly PathTarget['id'][] = ['direct', 'nginx', 'sidecars', 'cross-cluster'];

export interface BenchOptions extends LoadSettings {
  paths: readonly PathTarget['id'][];
  /** Second octet of every address the benchmark binds (127.<block>.x.y). */
  block: number;
  readyTimeoutS: number;
  out: string;
  /** Where the mesh keeps its state and logs; a fresh temporary folder when unset. */
  stateDir: string | undefined;
  keepLogs: boolean;
  /** Also run the route-matching and push benchmarks after the paths (default: when all paths run). */
  extras: boolean;
}

export const USAGE = `usage: npm run bench -- [options]

  --duration <s>          max-throughput run per path (default 10)
  --connections <n>       connections for the max-throughput run (default 32)
  --warmup <s>            unrecorded closed-loop warm-up per path (default 3, 0 to skip)
  --rate <rps>            fixed request rate for the latency run, same for every path (default 500)
  --rate-duration <s>     fixed-rate run per path (default 10)
  --rate-connections <n>  connections for the fixed-rate run (default 8)
  --paths <list>          comma-separated subset of ${PATH_IDS.join(',')} (default all)
  --block <n>             address block: binds only 127.<n>.x.y (default 150)
  --ready-timeout <s>     how long a mesh path may take to answer 200 (default 60)
  --extras / --no-extras  also run bench/route-matching.ts, bench/citadel-signing.ts and bench/push/push-bench.ts (default: only when --paths is not given)
  --out <file>            raw results as JSON (default bench/results/latest.json)
  --state-dir <dir>       mesh state and logs (default: a fresh temporary folder)
  --keep-logs             keep the temporary folder even after a clean run
`;

function int(name: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`invalid --${name} "${text}": an integer ${min}–${max}`);
  return n;
}

function seconds(name: string, text: string | undefined, def: number, min: number, max: number): number {
  if (text === undefined) return def;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`invalid --${name} "${text}": seconds, ${min}–${max}`);
  return n;
}

/** Validates the command line once; the rest of the benchmark trusts the frozen result. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      duration: { type: 'string' },
      connections: { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      'rate-duration': { type: 'string' },
      'rate-connections': { type: 'string' },
      paths: { type: 'string' },
      block: { type: 'string' },
      'ready-timeout': { type: 'string' },
      out: { type: 'string' },
      'state-dir': { type: 'string' },
      'keep-logs': { type: 'boolean' },
      extras: { type: 'boolean' },
      'no-extras': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const paths = (values.paths ?? PATH_IDS.join(',')).split(',').map((p) => p.trim());
  const unknown = paths.filter((p) => !PATH_IDS.some((id) => id === p));
  if (unknown.length > 0 || paths.length === 0) {
    throw new RangeError(`invalid --paths: unknown ${unknown.join(', ')}; expected some of ${PATH_IDS.join(',')}`);
  }
  return Object.freeze({
    durationS: seconds('duration', values.duration, 10, 1, 600),
    connections: int('connections', values.connections, 32, 1, 1024),
    warmupS: seconds('warmup', values.warmup, 3, 0, 120),
    rate: int('rate', values.rate, 500, 1, 100_000),
    rateDurationS: seconds('rate-duration', values['rate-duration'], 10, 1, 600),
    rateConnections: int('rate-connections', values['rate-connections'], 8, 1, 256),
    paths: PATH_IDS.filter((id) => paths.includes(id)),
    block: int('block', values.block, 150, 1, 250),
    readyTimeoutS: seconds('ready-timeout', values['ready-timeout'], 60, 1, 600),
    out: path.resolve(values.out ?? path.join(BENCH_DIR, 'results', 'latest.json')),
    stateDir: values['state-dir'] === undefined ? undefined : path.resolve(values['state-dir']),
    keepLogs: values['keep-logs'] ?? false,
    extras: values['no-extras'] ? false : (values.extras ?? values.paths === undefined),
  });
}
