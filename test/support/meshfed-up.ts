import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type MeshState, readState } from '../../src/cli/runner/state-file.ts';
import { assertFreshBuild, MESHFED_BIN } from './build.ts';

/** One process of a running `meshfed up`, as state.json lists it. */
export interface UpProcess {
  name: string;
  pid: number;
  /** Resolves once the PID is gone (polled: the process is the runner's child, not ours). */
  exited: Promise<void>;
}

/** A `meshfed up` running as its own process, the way a user starts it. */
export interface UpProcessHandle {
  state: MeshState;
  /** The `meshfed up` runner's PID. */
  pid: number;
  /** Everything up printed so far (stdout and stderr). */
  output(): string;
  processes(): readonly UpProcess[];
  /**
   * SIGINT to the runner (Ctrl-C, as a user stops it), then waits for it and for every PID in
   * state.json to be gone. A process still there after the grace period is SIGKILLed by PID and
   * reported in the returned list; an empty list means up cleaned up after itself.
   */
  stop(): Promise<string[]>;
}

export interface StartUpOptions {
  /** Arguments after `up`; must include `--state-dir`. */
  args: string[];
  stateDir: string;
  /** The command to run: default `node <repo>/bin/meshfed.js`. */
  command?: { file: string; args: string[] };
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  label: string;
  readyTimeoutMs?: number;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

function pollExit(pid: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (!alive(pid)) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    timer.unref();
  });
}

function exitedEarly(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Runs `meshfed up …` as a child process and resolves once it has written state.json (everything
 * ready). Rejects with up's own output when it exits first or is not ready in time; either way no
 * process it started is left behind.
 */
export async function startMeshfedUp(opts: StartUpOptions): Promise<UpProcessHandle> {
  if (!opts.command) assertFreshBuild();
  const command = opts.command ?? { file: process.execPath, args: [MESHFED_BIN] };
  const child = spawn(command.file, [...command.args, 'up', ...opts.args], {
    cwd: opts.cwd ?? process.cwd(),
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${opts.label}: could not start meshfed up`);
  const pid = child.pid;
  let out = '';
  const collect = (chunk: Buffer): void => {
    out += chunk.toString();
    for (const line of chunk.toString().split('\n')) if (line) process.stderr.write(`[${opts.label}] ${line}\n`);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const childExit = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  let state: MeshState | undefined;
  const stop = async (): Promise<string[]> => {
    if (!exitedEarly(child)) child.kill('SIGINT');
    // The grace timer is cleared once the runner exits: left pending, it kept the test worker alive
    // for its whole 20 s after every file's last test.
    let grace: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((r) => {
      grace = setTimeout(() => r(false), 20_000);
    });
    const runnerGone = await Promise.race([childExit.then(() => true), graceOver]);
    clearTimeout(grace);
    const leftovers: string[] = [];
    if (!runnerGone) {
      leftovers.push(`meshfed up (${pid})`);
      child.kill('SIGKILL');
      await childExit;
    }
    for (const p of state?.processes ?? []) {
      if (await gone(p.pid, runnerGone ? 2000 : 0)) continue;
      leftovers.push(`${p.name} (${p.pid})`);
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Gone between the check and the kill.
      }
    }
    return leftovers;
  };

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  const stateFile = path.join(opts.stateDir, 'state.json');
  for (;;) {
    if (exitedEarly(child)) {
      await stop();
      throw new Error(`${opts.label}: meshfed up exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${out}`);
    }
    const text = await readFile(stateFile, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      const r = await readState(opts.stateDir);
      if (r.ok && r.value.runnerPid === pid) {
        state = r.value;
        break;
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${opts.label}: meshfed up was not ready in time:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const ready = state;
  const procs = (ready.processes ?? []).map((p) => ({ ...p, exited: pollExit(p.pid) }));
  return { state: ready, pid, output: () => out, processes: () => procs, stop };
}
