import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export type ToolName = 'consul' | 'prometheus' | 'promtool';

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The user's tools folder, outside any package: `$MESHFED_TOOLS_DIR`, else
 * `$XDG_CACHE_HOME/meshfed/tools` (`~/.cache/meshfed/tools` when XDG_CACHE_HOME is unset).
 * `meshfed tools install` fills `<dir>/bin`; a checkout and an installed package share it.
 */
export function toolsDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env['MESHFED_TOOLS_DIR'];
  if (explicit) return path.resolve(explicit);
  const cache = env['XDG_CACHE_HOME'] && path.isAbsolute(env['XDG_CACHE_HOME']) ? env['XDG_CACHE_HOME'] : path.join(env['HOME'] || homedir(), '.cache');
  return path.join(cache, 'meshfed', 'tools');
}

/** Where a real tool was found, and how. */
export interface LocatedTool {
  path: string;
  from: 'PATH' | 'tools folder';
}

/** Finds a real tool: PATH first, then `<toolsDir()>/bin`. */
export function findToolLocation(name: ToolName, env: NodeJS.ProcessEnv = process.env): LocatedTool | undefined {
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && executable(path.join(dir, name))) return { path: path.join(dir, name), from: 'PATH' };
  }
  const cached = path.join(toolsDir(env), 'bin', name);
  return executable(cached) ? { path: cached, from: 'tools folder' } : undefined;
}

/** The path of a real tool (PATH, then the tools folder), or undefined. */
export function locateTool(name: ToolName): string | undefined {
  return findToolLocation(name)?.path;
}

export const TOOL_HINT =
  'run `meshfed tools install` (it fetches Consul 1.8.7 and Prometheus from Debian into the tools folder, `meshfed tools` shows where), or install them so that they are on PATH';
