import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import test from 'ava';

/**
 * shellcheck over every shell script in the repository: every tracked file whose first line is a
 * bash or sh shebang (.ci/run, scripts/, kind-configs/ and the dry-run stand-ins). Without
 * shellcheck the test is reported as skipped, by name, with the reason, unless CI is set or
 * MESHFED_REQUIRE_TOOLS=1 (set by .ci/run, which installs Debian's `shellcheck`): then the missing
 * tool is a failure. Binds nothing.
 */
const run = promisify(execFile);
const TITLE = 'shellcheck accepts every shell script';
const required = process.env['MESHFED_REQUIRE_TOOLS'] === '1' || process.env['CI'] === '1' || process.env['CI'] === 'true';

async function shellcheckVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('shellcheck', ['--version']);
    return /version: (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function shellScripts(): Promise<string[]> {
  const { stdout } = await run('git', ['ls-files', '-z']);
  const out: string[] = [];
  for (const file of stdout.split('\0').filter((f) => f !== '')) {
    if (file.startsWith('node_modules/')) continue;
    const head = await readFile(file, 'utf8').then((t) => t.slice(0, 64), () => '');
    if (/^#!\s*(\/usr\/bin\/env\s+(bash|sh)|\/bin\/(ba)?sh)\b/.test(head)) out.push(file);
  }
  return out.sort();
}

const version = await shellcheckVersion();

if (version === undefined && !required) {
  test.skip(`${TITLE} — skipped: shellcheck is not on PATH (apt-get install shellcheck; set MESHFED_REQUIRE_TOOLS=1 to make this a failure)`, () => {});
} else {
  test(TITLE, async (t) => {
    if (version === undefined) return t.fail('shellcheck is not on PATH but CI or MESHFED_REQUIRE_TOOLS=1 requires it: apt-get install shellcheck');
    const scripts = await shellScripts();
    for (const s of ['.ci/run', 'kind-configs/setup.sh', 'kind-configs/teardown.sh', 'kind-configs/render.sh', 'scripts/ensure-tools.sh']) t.true(scripts.includes(s), s);
    t.log(`shellcheck ${version} on ${scripts.length} scripts`);
    try {
      const out = await run('shellcheck', ['--format=gcc', ...scripts]);
      t.is(String(out.stdout).trim(), '', 'shellcheck reports nothing');
    } catch (e: unknown) {
      const err = e as { stdout?: string };
      t.fail(`shellcheck found problems:\n${err.stdout ?? String(e)}`);
    }
  });
}
