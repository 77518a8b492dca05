import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Linux /proc readers for the processes under test. All readers return undefined for a process that
 * is gone instead of throwing, since a crashed proxy must still leave a report behind.
 */

let clockTicks: number | undefined;

/** `getconf CLK_TCK` (jiffies per second of utime/stime), read once; 100 if getconf fails. */
export function clkTck(): number {
  if (clockTicks === undefined) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of one process, in seconds. */
export function cpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Field 2 (comm) is parenthesised and may hold spaces: split after its closing parenthesis.
  // What follows starts at field 3 (state); utime and stime are fields 14 and 15.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / clkTck();
}

/** VmRSS of one process, in MiB. */
export function rssMiB(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return m?.[1] ? Number(m[1]) / 1024 : undefined;
}

/** Direct children of `pid` (e.g. nginx's worker processes under its master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    } catch {
      // Task ended meanwhile.
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine (first line of /proc/stat). */
export function hostCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Seconds the process's main thread has spent runnable but waiting for a CPU (second field of
 * /proc/<pid>/schedstat). Growth during a run means the process was starved, not idle.
 */
export function runqueueWaitSeconds(pid: number): number | undefined {
  try {
    const v = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/)[1]);
    return Number.isFinite(v) ? v / 1e9 : undefined;
  } catch {
    return undefined;
  }
}
