/**
 * Summarises a V8 .cpuprofile: the top functions by self time and by inclusive time, and self time
 * grouped by where the code lives (node internals, a package in node_modules, a src/ folder).
 *
 *   node --import tsx bench/profile/summarize-cpuprofile.ts FILE.cpuprofile [top=30] [function name]
 *
 * With a function name, it also prints the call stacks (up to 6 frames) that reach that function,
 * by the time spent in it.
 */
import { readFile } from 'node:fs/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const file = process.argv[2];
const top = Number(process.argv[3] ?? 30);
const focus = process.argv[4];
if (!file) throw new Error('usage: summarize-cpuprofile.ts FILE.cpuprofile [top]');
const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfUs = new Map<number, number>();
for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

function key(f: CallFrame): string {
  const where = f.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/src\//, 'src/');
  return `${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`;
}
function area(f: CallFrame): string {
  if (f.url === '') return f.functionName.startsWith('(') ? f.functionName : '(native)';
  if (f.url.startsWith('node:')) return 'node internals';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  if (nm) return `nm:${nm[1]}`;
  const src = /\/src\/([^/]+)\//.exec(f.url);
  return src ? `src/${src[1]}` : 'other';
}

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  self.set(key(n.callFrame), (self.get(key(n.callFrame)) ?? 0) + us);
  areas.set(area(n.callFrame), (areas.get(area(n.callFrame)) ?? 0) + us);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const c = byId.get(cur);
    if (!c) break;
    const k = key(c.callFrame);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}

const pct = (us: number): string => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, m: Map<string, number>, n: number): void => {
  process.stdout.write(`\n## ${title}\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) process.stdout.write(`${pct(us)}  ${k}\n`);
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled\n`);
print('self time by area', areas, 20);
print('self time', self, top);
print('inclusive time', inclusive, top);

if (focus !== undefined) {
  const stacks = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frames: string[] = [];
    let hit = false;
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur);
      if (!c) break;
      if (!hit && c.callFrame.functionName === focus) hit = true;
      if (hit) frames.push(key(c.callFrame));
      if (frames.length >= 6) break;
    }
    if (hit) stacks.set(frames.join(' < '), (stacks.get(frames.join(' < ')) ?? 0) + us);
  }
  print(`stacks through ${focus}`, stacks, 12);
}
