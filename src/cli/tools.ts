import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ToolName = 'consul' | 'prometheus' | 'promtool';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a real tool: PATH first, then `<repo>/.tools/bin` (filled by `npm run tools`). */
export function locateTool(name: ToolName): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return path.join(dir, name);
  }
  const local = path.join(REPO_ROOT, '.tools', 'bin', name);
  return executable(local) ? local : undefined;
}

export const TOOL_HINT =
  'run `npm run tools` (scripts/ensure-tools.sh fetches Consul 1.8.7 and Prometheus from Debian into .tools/), or install them so that they are on PATH';
