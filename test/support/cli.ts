import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
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
