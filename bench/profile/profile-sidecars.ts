/**
 * Profiles the sidecar pair under load: brings up bench/mesh.yaml with cpu-profile-hook.mjs
 * preloaded, waits for the sidecar path to serve, warms up, then profiles both sidecars (SIGUSR2
 * on, SIGUSR2 off) around one closed-loop load run (the same load-max.ts child the benchmark uses).
 * Prints which profile file belongs to which sidecar.
 *
 *   node --import tsx bench/profile/profile-sidecars.ts [--duration 10] [--connections 32] [--rate RPS] [--out-dir DIR] [--block 91]
 *
 * With `--rate`, the profiled run is the open-loop fixed-rate generator (load-fixed-rate.ts, 8
 * connections) instead of the closed loop.
 *
 * Summarise a profile with bench/profile/summarize-cpuprofile.ts.
 */
import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ChildRegistry } from '../children.ts';
import { runFixedRate, runMax } from '../load.ts';
import { startBenchMesh } from '../mesh.ts';
import { waitUntilServing } from '../target.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    connections: { type: 'string' },
    'out-dir': { type: 'string' },
    block: { type: 'string' },
    rate: { type: 'string' },
  },
});
const durationS = Number(values.duration ?? 10);
const connections = Number(values.connections ?? 32);
const block = Number(values.block ?? 91);
const rate = values.rate === undefined ? undefined : Number(values.rate);
if (rate !== undefined && (!Number.isInteger(rate) || rate < 1)) throw new RangeError('invalid --rate');
if (!Number.isFinite(durationS) || durationS <= 0) throw new RangeError('invalid --duration');
if (!Number.isInteger(connections) || connections < 1) throw new RangeError('invalid --connections');
if (!Number.isInteger(block) || block < 1 || block > 250) throw new RangeError('invalid --block');

const work = await mkdtemp(path.join(os.tmpdir(), 'meshfed-profile-'));
const outDir = path.resolve(values['out-dir'] ?? path.join(work, 'profiles'));
await mkdir(outDir, { recursive: true });

const previous = process.env['NODE_OPTIONS'];
process.env['NODE_OPTIONS'] = `${previous ?? ''} --import=${path.join(import.meta.dirname, 'cpu-profile-hook.mjs')}`.trim();
process.env['MESHFED_PROFILE_DIR'] = outDir;
const mesh = await startBenchMesh({
  stateDir: path.join(work, 'mesh'),
  block,
  readyTimeoutMs: 60_000,
  progress: (line) => process.stderr.write(`  ${line}\n`),
});
delete process.env['MESHFED_PROFILE_DIR'];
if (previous === undefined) delete process.env['NODE_OPTIONS'];
else process.env['NODE_OPTIONS'] = previous;

const children = new ChildRegistry();
const target = mesh.sidecars;
const sidecars = target.processes().filter((p) => p.kind === 'sidecar');
const toggle = (): void => {
  for (const p of sidecars) process.kill(p.pid, 'SIGUSR2');
};
try {
  await waitUntilServing(target, 60_000);
  const job = { url: target.url, ...(target.host ? { host: target.host } : {}), connections };
  await runMax(children, { ...job, durationS: 2 }, path.join(work, 'load.log'));
  toggle();
  if (rate === undefined) {
    const r = await runMax(children, { ...job, durationS }, path.join(work, 'load.log'));
    process.stderr.write(`load: ${r.requests} requests, ${r.rps.toFixed(0)} rps, ${r.errors} errors, ${r.non2xx} non-2xx\n`);
  } else {
    const r = await runFixedRate(children, { ...job, connections: 8, rate, durationS, warmupS: 0 }, path.join(work, 'load.log'));
    process.stderr.write(`load: ${JSON.stringify(r)}\n`);
  }
  toggle();
  await new Promise((resolve) => setTimeout(resolve, 2000));
} finally {
  await children.stopAll();
  await mesh.stop();
}
const files = await readdir(outDir);
for (const p of sidecars) {
  const file = files.find((f) => f === `sidecar-${p.pid}.cpuprofile`);
  process.stdout.write(`${p.name}\t${p.pid}\t${file ? path.join(outDir, file) : '(no profile)'}\n`);
}
