import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { errorMessage } from '../../common/errors.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { CAPTURE_CHAINS, type CaptureRules } from './capture-rules.ts';

const run = promisify(execFile);

/** Feeds `input` to `command --noflush` on stdin; resolves with its stderr on failure. */
function restore(command: string, input: string): Promise<Result<void, string>> {
  return new Promise((resolve) => {
    const child = spawn(command, ['--noflush'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('error', (e) => resolve(fail(`cannot run ${command}: ${errorMessage(e)}`)));
    child.once('close', (code) => resolve(code === 0 ? ok(undefined) : fail(`${command} --noflush exited with ${code}: ${stderr.trim()}`)));
    child.stdin.end(input);
  });
}

/** Whether meshfed's chains already exist in this network namespace's nat table. */
async function installed(save: string): Promise<Result<boolean, string>> {
  try {
    const { stdout } = await run(save, ['-t', 'nat']);
    return ok(stdout.split('\n').some((l) => l.startsWith(`:${CAPTURE_CHAINS.output} `)));
  } catch (e: unknown) {
    return fail(`cannot run ${save} -t nat: ${errorMessage(e)}`);
  }
}

/**
 * Installs the capture rules in the caller's network namespace (needs CAP_NET_ADMIN), once, as
 * istio-init does: IPv4 with iptables-restore, then IPv6 with ip6tables-restore when the rules
 * have an IPv6 table. Refuses when meshfed's chains are already there (the jumps into them would
 * be doubled); errors name the command and carry its stderr.
 */
export async function applyCaptureRules(rules: CaptureRules): Promise<Result<void, string>> {
  const families: { restore: string; save: string; text: string }[] = [{ restore: 'iptables-restore', save: 'iptables-save', text: rules.v4 }];
  if (rules.v6 !== undefined) families.push({ restore: 'ip6tables-restore', save: 'ip6tables-save', text: rules.v6 });
  for (const f of families) {
    const already = await installed(f.save);
    if (!already.ok) return already;
    if (already.value) return fail(`${f.save}: chain ${CAPTURE_CHAINS.output} already exists: capture is already installed in this network namespace`);
  }
  for (const f of families) {
    const r = await restore(f.restore, f.text);
    if (!r.ok) return r;
  }
  return ok(undefined);
}
