import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { assertFreshBuild, MESHFED_BIN } from './build.ts';

const run = promisify(execFile);

/** Runs `meshfed <args>` as a user would (the compiled CLI, a real child process) and returns how it ended. */
export async function meshfed(
  args: string[],
  opts: { timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } | number = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  assertFreshBuild();
  try {
    const r = await run(process.execPath, [MESHFED_BIN, ...args], {
      timeout: o.timeoutMs ?? 30_000,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.env ? { env: o.env } : {}),
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e: unknown) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** A long-running `meshfed <command>` child (the compiled CLI), stopped by PID. */
export interface MeshfedProcess {
  pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM to its PID, SIGKILL after `graceMs`; resolves once it is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `meshfed <args>` (after `opts.wrap`, e.g. `ip netns exec NS`) and registers its stop in
 * `t.teardown`, so it ends with the test even when an assertion fails. MESHFED_PARENT_PID makes it exit by itself if this test process dies.
 */
export function startMeshfed(t: ExecutionContext, args: string[], opts: { wrap?: readonly string[] } = {}): MeshfedProcess {
  assertFreshBuild();
  // `wrap` runs the CLI through commands that exec it in place (ip netns exec, setpriv), so the
  // PID held is still meshfed's own.
  const [command, ...pre] = [...(opts.wrap ?? []), process.execPath];
  const child = spawn(command ?? process.execPath, [...pre, MESHFED_BIN, ...args], {
    env: { ...process.env, MESHFED_PARENT_PID: String(process.pid) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start meshfed ${args[0] ?? ''}`);
  const pid = child.pid;
  let out = '';
  const collect = (c: Buffer): void => {
    out += c.toString();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<void>((resolve) => {
    if (exited()) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 5000): Promise<void> => {
    stopping ??= (async () => {
      if (exited()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited()) child.kill('SIGKILL');
      }, graceMs);
      await exit;
      clearTimeout(timer);
    })();
    return stopping;
  };
  t.teardown(() => stop());
  return { pid, output: () => out, exited, stop };
}
