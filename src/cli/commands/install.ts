import type { Command } from 'commander';
import { errorMessage } from '../../common/errors.ts';
import { installManifests, renderManifests } from '../install/install-render.ts';
import { parseInstallOptions, type InstallFlags } from '../install/install-options.ts';
import { packageVersion } from '../package-paths.ts';
import { exitWith } from './lifecycle.ts';

/**
 * `meshfed install`: prints one cluster's manifests (CRDs, RBAC, control plane, webhooks, east-west
 * gateway) as multi-document YAML, for `meshfed install … | kubectl apply -f -`. Reads nothing and
 * contacts nothing.
 */
export function registerInstallCommand(program: Command): void {
  program
    .command('install')
    .description("print one cluster's Kubernetes manifests (pipe into kubectl apply -f -)")
    .requiredOption('--cluster <name>', 'cluster name (a DNS label)')
    .requiredOption('--network <net>', 'network name (topology.istio.io/network)')
    .requiredOption('--gateway-address <ip>', "the east-west gateway's address as other clusters reach it")
    .option('--namespace <ns>', 'namespace of the control plane and gateway', 'meshfed-system')
    .option('--image <ref>', 'meshfed image', `meshfed:${packageVersion()}`)
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('--gateway-service-type <type>', 'LoadBalancer, or NodePort where no load balancer exists', 'LoadBalancer')
    .option('--gateway-node-port <port>', 'node port of 15443 with --gateway-service-type NodePort', '31443')
    .option('--consul <host:port>', "the cluster's Consul HTTP address (default consul.<namespace>.svc:8500)")
    .action((flags: InstallFlags) => {
      let text: string;
      try {
        const o = parseInstallOptions(flags);
        const args = process.argv.slice(process.argv.indexOf('install'));
        text = renderManifests(installManifests(o), [`meshfed ${args.join(' ')}`, `meshfed ${packageVersion()}: regenerate rather than edit`]);
      } catch (e: unknown) {
        return exitWith(`meshfed install: ${errorMessage(e)}`);
      }
      // `meshfed install | head` closes the pipe early: that is the reader's choice, not an error.
      process.stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(0);
        exitWith(`meshfed install: ${e.message}`);
      });
      process.stdout.write(text);
    });
}
