import { Command, InvalidArgumentError, Option } from 'commander';
import { registerCaptureCommand } from './commands/capture.ts';
import { registerComponentCommands } from './commands/components.ts';
import { registerControlPlaneCommands } from './commands/control-plane.ts';
import { registerInstallCommand } from './commands/install.ts';
import { exitWith } from './commands/lifecycle.ts';
import { registerMeshCommands } from './commands/mesh.ts';
import { registerToolsCommands } from './commands/tools.ts';
import { packageVersion } from './package-paths.ts';
import { errorMessage } from '../common/errors.ts';
import { watchParent } from './parent-watch.ts';

/**
 * The `meshfed` command. Component commands (controlplane, pilot, federation, citadel, mixer,
 * gateway, sidecar, echo) run one process each; mesh commands (up, status, curl, apply, demo, ca init) drive a local
 * multi-cluster mesh; `install` prints a cluster's Kubernetes manifests; `capture-init` installs transparent capture (the injected init container); `tools` finds and installs the real Consul and Prometheus.
 */
export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number');
  return n;
}

const program = new Command('meshfed')
  .description('meshfed: a multi-cluster service mesh (sidecars, Pilot, Citadel, Mixer, east-west gateways, Consul federation)')
  .version(packageVersion(), '-V, --version', 'print the meshfed version')
  // Program options only before the command: `meshfed echo --version v2` is the echo app's version label.
  .enablePositionalOptions()
  .showHelpAfterError()
  .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
  .hook('preAction', (cmd) => {
    const level = cmd.opts<{ logLevel?: string }>().logLevel;
    if (level && !process.env['MESHFED_LOG_LEVEL']) process.env['MESHFED_LOG_LEVEL'] = level;
  });

registerMeshCommands(program);
registerControlPlaneCommands(program);
registerComponentCommands(program);
registerToolsCommands(program);
registerInstallCommand(program);
registerCaptureCommand(program);
watchParent();

try {
  await program.parseAsync(process.argv);
} catch (e: unknown) {
  // A component that cannot start (missing CA files, a port in use, ...) ends with one line
  // naming the command and the cause; the stack only with --log-level debug.
  const command = process.argv[2] ?? 'meshfed';
  if (process.env['MESHFED_LOG_LEVEL'] === 'debug' && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  exitWith(`meshfed ${command}: ${errorMessage(e)}`);
}
