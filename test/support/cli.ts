import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI_MAIN } from '../../src/cli/runner/supervisor.ts';

const run = promisify(execFile);

/** Runs `meshfed <args>` as a user would (a real child process) and returns how it ended. */
export async function meshfed(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['--import', 'tsx', CLI_MAIN, ...args], { timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e: unknown) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
