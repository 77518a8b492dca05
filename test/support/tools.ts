/**
 * Locates the real third-party binaries tests drive. Tests never skip when one is missing: they
 * fail with a message saying how to get it.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives at test/support/tools.ts). */
export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The path of `name`: the first executable on PATH, else `<repo>/.tools/bin/<name>`. Throws when
 * neither exists, saying to run `npm run tools` (scripts/ensure-tools.sh) or to install it.
 */
export function findTool(name: 'consul' | 'prometheus' | 'promtool'): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (executable(candidate)) return candidate;
  }
  const local = join(repoRoot, '.tools', 'bin', name);
  if (executable(local)) return local;
  throw new Error(
    `${name} not found on PATH nor at ${local}: run \`npm run tools\` (scripts/ensure-tools.sh) or install ${name}`,
  );
}
