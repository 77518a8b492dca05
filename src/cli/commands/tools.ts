import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Command } from 'commander';
import { PACKAGE_ROOT } from '../package-paths.ts';
import { findToolLocation, type ToolName, toolsDir } from '../tools.ts';
import { exitWith } from './lifecycle.ts';

const TOOLS: readonly ToolName[] = ['consul', 'prometheus', 'promtool'];

/** `meshfed tools` lists where each real tool is found; `meshfed tools install` fetches the missing ones. */
export function registerToolsCommands(program: Command): void {
  const tools = program
    .command('tools')
    .description('the real Consul and Prometheus meshfed drives: where they are found (PATH, then the tools folder)')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const rows = TOOLS.map((name) => ({ name, ...(findToolLocation(name) ?? { path: null, from: null }) }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ toolsDir: toolsDir(), tools: rows }, null, 2)}\n`);
      } else {
        process.stdout.write(`tools folder: ${toolsDir()}\n`);
        for (const r of rows) process.stdout.write(`${r.name.padEnd(11)} ${r.path ? `${r.path} (${r.from})` : 'missing: run `meshfed tools install`'}\n`);
      }
      if (rows.some((r) => r.path === null)) process.exitCode = 1;
    });
  tools
    .command('install')
    .description("fetch Consul 1.8.7 (Debian bullseye) and Prometheus (this machine's Debian release) into the tools folder with apt")
    .action(async () => {
      const script = path.join(PACKAGE_ROOT, 'scripts', 'ensure-tools.sh');
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn('bash', [script], { stdio: 'inherit', env: { ...process.env, MESHFED_TOOLS_DIR: toolsDir() } });
        child.on('error', () => resolve(null));
        child.on('exit', (c) => resolve(c));
      });
      if (code !== 0) exitWith(`meshfed tools install: ${script} failed (${code ?? 'could not run bash'})`);
    });
}
