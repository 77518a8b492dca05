/**
 * Locates the real third-party binaries tests drive. Tests never skip when one is missing: they
 * fail with a message saying how to get it. The search itself is the CLI's (src/cli/tools.ts).
 */
import { locateTool, TOOL_HINT, type ToolName, toolsDir } from '../../src/cli/tools.ts';

/** The path of `name` (PATH, then the user's tools folder); throws with how to get it when missing. */
export function findTool(name: ToolName): string {
  const found = locateTool(name);
  if (!found) throw new Error(`${name} not found on PATH nor in ${toolsDir()}/bin: ${TOOL_HINT}`);
  return found;
}
