import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CLI_ENTRY, PACKAGE_ROOT } from '../../src/cli/package-paths.ts';

/** The `meshfed` command as users run it: the package's bin script over the compiled dist/. */
export const MESHFED_BIN = path.join(PACKAGE_ROOT, 'bin', 'meshfed.js');

function newestMtime(dir: string): { file: string; ms: number } {
  let best = { file: dir, ms: 0 };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    const m = e.isDirectory() ? newestMtime(p) : { file: p, ms: statSync(p).mtimeMs };
    if (m.ms > best.ms) best = m;
  }
  return best;
}

let checked = false;

/**
 * Tests that start the CLI run the compiled code, so a stale dist/ would test old code. `npm test`
 * builds first; a single file run by hand after an edit fails here, saying so, instead.
 */
export function assertFreshBuild(): void {
  if (checked) return;
  let built: number;
  try {
    built = statSync(CLI_ENTRY).mtimeMs;
  } catch {
    throw new Error(`${CLI_ENTRY} is missing: run \`npm run build\` first (npm test does)`);
  }
  const newest = newestMtime(path.join(PACKAGE_ROOT, 'src'));
  if (newest.ms > built) throw new Error(`dist/ is older than ${path.relative(PACKAGE_ROOT, newest.file)}: run \`npm run build\` first (npm test does)`);
  checked = true;
}
