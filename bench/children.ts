import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tcpOpen } from '../src/cli/runner/readiness.ts';

/** The folder this file is in (bench/), for spawning sibling scripts. */
export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));

/** A child process the benchmark started; it is stopped by its PID only. */
export interface BenchChild {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string | null>;
}

/**
 * Every child the benchmark spawns, so that cleanup (normal, on error, on SIGINT) stops each of
 * them by PID. Nothing here ever kills by name.
 */
export class ChildRegistry {
  private readonly children = new Set<BenchChild>();

  /** Starts `command`; stdout/stderr go to `logFile` unless `captureStdout` keeps stdout for the caller. */
  spawn(
    name: string,
    command: string,
    args: readonly string[],
    opts: { logFile: string; captureStdout?: boolean },
  ): BenchChild {
    const log = createWriteStream(opts.logFile, { flags: 'a' });
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    if (!opts.captureStdout) child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<number | string | null>((resolve) => {
      child.once('exit', (code, sig) => {
        log.end();
        resolve(code ?? sig);
      });
      child.once('error', () => resolve(null));
    });
    const entry: BenchChild = { name, pid: child.pid, child, exited };
    this.children.add(entry);
    void exited.then(() => this.children.delete(entry));
    return entry;
  }

  /** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(c: BenchChild, graceMs = 3000): Promise<void> {
    if (!isRunning(c)) return;
    signal(c.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(c.pid, 'SIGKILL'), graceMs);
    await c.exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.stop(c)));
  }
}

export function isRunning(c: BenchChild): boolean {
  return c.child.exitCode === null && c.child.signalCode === null;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Polls until `host:port` accepts TCP, the child exits, or `timeoutMs` passes. */
export async function waitForPort(c: BenchChild, host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(c)) throw new Error(`${c.name} exited (${String(await c.exited)}) before listening on ${host}:${port}`);
    if (await tcpOpen(host, port)) return;
    if (Date.now() > deadline) throw new Error(`${c.name}: nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
