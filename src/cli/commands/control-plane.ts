import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { ConsulTlsOptions } from '../../federation/index.ts';
import { type MeshConfig, parseMeshConfigText } from '../../pilot/config/mesh-config.ts';
import { DEFAULT_DNS_REFRESH_MS, type DnsSettings } from '../../pilot/model/snapshot.ts';
import { createLogger } from '../../common/log.ts';
import type { DiscoveryChoice } from '../control-plane.ts';
import { packageVersion } from '../package-paths.ts';
import { addCitadelAuthOptions, citadelAuthChoice } from './citadel-auth.ts';
import { exitWith, runUntilSignal } from './lifecycle.ts';
import { hostPort } from './options.ts';

function discoveryOption(defaultKind: DiscoveryChoice['kind']): Option {
  return new Option('--discovery <kind>', 'federation backend').choices(['consul', 'memory', 'none']).default(defaultKind);
}

/** `--discovery` with the address it needs. */
function discoveryChoice(o: Record<string, string>): DiscoveryChoice {
  if (o['discovery'] === 'consul') {
    if (!o['consul']) exitWith('--discovery consul needs --consul host:port');
    return { kind: 'consul', ...hostPort('--consul', o['consul']), ...consulSecurity(o) };
  }
  if (o['discovery'] === 'memory') {
    if (!o['memoryDiscovery']) exitWith('--discovery memory needs --memory-discovery URL');
    return { kind: 'memory', url: o['memoryDiscovery'] };
  }
  return { kind: 'none' };
}

/**
 * The Consul client options, named as Consul's own CLI names them, each also read from Consul's
 * environment variable. A token on the command line would show in `ps`, so only a file is taken.
 */
function withConsulSecurityOptions(command: Command): Command {
  return command
    .addOption(new Option('--consul-token-file <file>', "file holding the Consul ACL token (the controller's own, with the meshfed-federation policies)").env('CONSUL_HTTP_TOKEN_FILE'))
    .addOption(new Option('--consul-cacert <file>', "PEM roots that verify the Consul agent's HTTPS certificate; turns on HTTPS").env('CONSUL_CACERT'))
    .addOption(new Option('--consul-client-cert <file>', 'client certificate (PEM) for an agent with verify_incoming_https').env('CONSUL_CLIENT_CERT'))
    .addOption(new Option('--consul-client-key <file>', 'key of --consul-client-cert (PEM)').env('CONSUL_CLIENT_KEY'))
    .addOption(new Option('--consul-tls-server-name <name>', "name checked against the agent's certificate (default: the --consul host)").env('CONSUL_TLS_SERVER_NAME'));
}

function readOptionFile(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e: unknown) {
    return exitWith(`${flag} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The token and TLS settings of `--discovery consul`, files read once here. */
function consulSecurity(o: Record<string, string>): { token?: string; tls?: ConsulTlsOptions } {
  const token = o['consulTokenFile'] ? readOptionFile('--consul-token-file', o['consulTokenFile']).trim() : undefined;
  if (token === '') exitWith(`--consul-token-file ${o['consulTokenFile']}: the file is empty`);
  const cert = o['consulClientCert'];
  const key = o['consulClientKey'];
  if ((cert === undefined) !== (key === undefined)) exitWith('--consul-client-cert and --consul-client-key go together');
  const tlsOnly = ['consulClientCert', 'consulTlsServerName'].find((k) => o[k] !== undefined);
  if (!o['consulCacert'] && tlsOnly) exitWith(`--${tlsOnly.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --consul-cacert (HTTPS)`);
  const tls: ConsulTlsOptions | undefined = o['consulCacert']
    ? {
        ca: readOptionFile('--consul-cacert', o['consulCacert']),
        ...(cert && key ? { cert: readOptionFile('--consul-client-cert', cert), key: readOptionFile('--consul-client-key', key) } : {}),
        ...(o['consulTlsServerName'] ? { serverName: o['consulTlsServerName'] } : {}),
      }
    : undefined;
  return { ...(token !== undefined ? { token } : {}), ...(tls ? { tls } : {}) };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `--namespace` and `--sidecar-image` of `controlplane`, validated. */
function webhookOptions(o: Record<string, string>): { namespace: string; sidecarImage: string } {
  const namespace = o['namespace'] ?? '';
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) exitWith(`invalid --namespace ${JSON.stringify(namespace)}: must be a DNS label (lower-case letters, digits, -)`);
  const sidecarImage = o['sidecarImage'] ?? '';
  if (sidecarImage === '' || /\s/.test(sidecarImage)) exitWith(`invalid --sidecar-image ${JSON.stringify(sidecarImage)}: must be an image reference such as meshfed:0.1.0`);
  return { namespace, sidecarImage };
}

/** `--namespace` of `pilot` and `federation`: where the Leases live, read only in Kubernetes. */
function namespaceOption(o: Record<string, string>): string {
  const kube = (o['registries'] ?? '').split(',').some((r) => r.trim() === 'kube') || (o['configStores'] ?? '').split(',').some((r) => r.trim() === 'crd');
  if (o['namespace'] !== undefined && !kube) exitWith('--namespace is read only in Kubernetes: add kube to --registries or crd to --config-stores, or drop it');
  const namespace = o['namespace'] ?? 'meshfed-system';
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) exitWith(`invalid --namespace ${JSON.stringify(namespace)}: must be a DNS label (lower-case letters, digits, -)`);
  return namespace;
}

const DURATION = /^(\d+)(ms|s|m)$/;

/**
 * The mesh-wide DNS settings from `--dns-resolvers host:port,…` and `--dns-refresh-rate 5s`
 * (environment MESHFED_DNS_RESOLVERS / MESHFED_DNS_REFRESH_RATE when the flags are absent, so
 * that `meshfed up` passes them to every control plane).
 */
function dnsSettings(resolvers: string | undefined, refresh: string | undefined): DnsSettings | undefined {
  if ((resolvers ?? '') === '' && (refresh ?? '') === '') return undefined;
  const list = (resolvers ?? '').split(',').map((r) => r.trim()).filter((r) => r !== '').map((r) => hostPort('--dns-resolvers', r));
  let refreshRateMs = DEFAULT_DNS_REFRESH_MS;
  if (refresh !== undefined && refresh !== '') {
    const m = DURATION.exec(refresh);
    if (!m) return exitWith(`invalid --dns-refresh-rate: expected a duration such as 5s or 500ms, got "${refresh}"`);
    refreshRateMs = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
    if (refreshRateMs < 1) return exitWith('invalid --dns-refresh-rate: must be positive');
  }
  return { resolvers: list, refreshRateMs };
}

/**
 * `--mesh-config FILE` (Istio's meshConfig subset, src/pilot/config/mesh-config.ts), validated, and
 * the trust domain it and `--trust-domain` settle on (they must agree when both say one).
 */
function meshSettings(o: Record<string, string>): { mesh?: MeshConfig; trustDomain: string } {
  const file = o['meshConfig'];
  let mesh: MeshConfig | undefined;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e: unknown) {
      return exitWith(`--mesh-config: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const r = parseMeshConfigText(text, file);
    if (!r.ok) return exitWith(`--mesh-config: invalid mesh config:\n${r.errors.map((e) => `  ${e.toString()}`).join('\n')}`);
    mesh = r.value;
  }
  const flag = o['trustDomain'];
  if (flag !== undefined && mesh?.trustDomain !== undefined && flag !== mesh.trustDomain) {
    exitWith(`--trust-domain ${flag} differs from the mesh config's trustDomain ${mesh.trustDomain}: drop one`);
  }
  return { ...(mesh !== undefined ? { mesh } : {}), trustDomain: flag ?? mesh?.trustDomain ?? 'cluster.local' };
}

const TRUST_DOMAIN_HELP = 'SPIFFE trust domain (default: the mesh config\'s trustDomain, else cluster.local)';
const MESH_CONFIG_HELP =
  "Istio meshConfig subset (YAML: rootNamespace, trustDomain, trustDomainAliases, pathNormalization); in Kubernetes, mount the istio ConfigMap's mesh key as this file";

/** What Pilot's model is built from, shared by `controlplane`, `pilot` and `federation`. */
function pilotSources(o: Record<string, string>): {
  cluster: string;
  trustDomain: string;
  mesh?: MeshConfig;
  registryFile?: string;
  registries?: readonly string[];
  configStores?: readonly string[];
  kubeconfig?: string;
  configDir?: string;
  gatewayAddress?: string;
  dns?: DnsSettings;
} {
  const dns = dnsSettings(o['dnsResolvers'] ?? process.env['MESHFED_DNS_RESOLVERS'], o['dnsRefreshRate'] ?? process.env['MESHFED_DNS_REFRESH_RATE']);
  const registries = o['registries'] !== undefined ? o['registries'].split(',').map((r) => r.trim()) : undefined;
  // Unknown names are refused by Pilot itself (PilotOptionsError naming the known ones).
  const withFile = registries === undefined || registries.includes('file');
  if (withFile && !o['registryFile']) exitWith('--registries with file (the default) needs --registry-file');
  if (!withFile && o['registryFile']) exitWith('--registry-file is read only by the file registry: add file to --registries or drop it');
  const configStores = o['configStores'] !== undefined ? o['configStores'].split(',').map((r) => r.trim()) : undefined;
  const withFolder = configStores === undefined || configStores.includes('file');
  if (withFolder && !o['configDir']) exitWith('--config-stores with file (the default) needs --config-dir');
  if (!withFolder && o['configDir']) exitWith('--config-dir is read only by the file config store: add file to --config-stores or drop it');
  const kube = registries?.includes('kube') === true || configStores?.includes('crd') === true;
  if (o['kubeconfig'] && !kube && o['auth'] !== 'kube') {
    exitWith('--kubeconfig is read only by the kube registry and the crd config store: add kube to --registries or crd to --config-stores, or drop it');
  }
  const { mesh, trustDomain } = meshSettings(o);
  return {
    ...(dns !== undefined ? { dns } : {}),
    cluster: o['cluster'] ?? '',
    trustDomain,
    ...(mesh !== undefined ? { mesh } : {}),
    ...(o['registryFile'] ? { registryFile: o['registryFile'] } : {}),
    ...(registries !== undefined ? { registries } : {}),
    ...(configStores !== undefined ? { configStores } : {}),
    ...(o['kubeconfig'] ? { kubeconfig: o['kubeconfig'] } : {}),
    ...(o['configDir'] ? { configDir: o['configDir'] } : {}),
    ...(o['gatewayAddress'] ? { gatewayAddress: o['gatewayAddress'] } : {}),
  };
}

/**
 * `controlplane` (istiod-style, all parts in one process), and `pilot` and `federation` alone.
 * Each action imports its component when it runs (see components.ts).
 */
export function registerControlPlaneCommands(program: Command): void {
  const controlplane = program
    .command('controlplane')
    .description("run a cluster's control plane (Pilot, Citadel, Mixer, federation) in one process, like istiod")
    .requiredOption('--cluster <name>')
    .requiredOption('--address <ip>', 'address to bind 15010, 15012, 15014 and 15017 (admission webhooks) on; 15010 is plain xDS, so it must be a loopback or the cluster network\'s own address (0.0.0.0 / :: refused without --plain-xds-any-address)')
    .option('--plain-xds-any-address', 'allow --address 0.0.0.0 / :: although it exposes plain, unauthenticated xDS on 15010 to every network')
    .option('--trust-domain <domain>', TRUST_DOMAIN_HELP)
    .option('--mesh-config <file>', MESH_CONFIG_HELP)
    .option('--namespace <ns>', "the control plane's namespace: names its webhook certificate (meshfed-controlplane.<ns>.svc), never injected", 'meshfed-system')
    .option('--sidecar-image <ref>', 'image of the sidecar and init containers the injector adds', `meshfed:${packageVersion()}`)
    .requiredOption('--ca-dir <dir>', "this cluster's plug-in CA folder (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)")
    .option('--registry-file <file>', 'workloads.json of the file registry (needed with it)')
    .option('--registries <names>', 'comma-separated registries: file, kube, federation (default file,federation)')
    .option('--config-stores <names>', 'comma-separated config stores: file, crd (default file)')
    .option('--kubeconfig <file>', 'the API server of the kube registry, the crd config store and --auth kube (default: KUBECONFIG, ~/.kube/config, in-cluster)');
  addCitadelAuthOptions(controlplane)
    .option('--config-dir <dir>', 'watched folder of Istio-kind YAML (needed with the folder config store)')
    .requiredOption('--gateway-address <ip>', "this cluster's east-west gateway address")
    .option('--dns-resolvers <host:port,...>', "DNS servers of DNS-resolved ServiceEntries (default: the proxies' system resolver)")
    .option('--dns-refresh-rate <duration>', 'how often proxies re-resolve DNS clusters when the answer has no TTL (default 60s)')
    .addOption(discoveryOption('none'))
    .option('--consul <host:port>', 'local Consul agent HTTP address')
    .option('--memory-discovery <url>', 'embedded discovery URL');
  withConsulSecurityOptions(controlplane)
    .action(async (o: Record<string, string>) => {
      const { startControlPlane } = await import('../control-plane.ts');
      const log = createLogger('controlplane', { cluster: o['cluster'] ?? '' });
      const webhooks = webhookOptions(o);
      const cp = await startControlPlane({
        ...pilotSources(o),
        address: o['address'] ?? '',
        ...(o['plainXdsAnyAddress'] ? { plainXdsAnyAddress: true } : {}),
        caDir: o['caDir'] ?? '',
        namespace: webhooks.namespace,
        citadel: citadelAuthChoice(o),
        mixer: true,
        webhooks,
        discovery: discoveryChoice(o),
        logger: log,
      });
      runUntilSignal('controlplane', log, () => cp.close());
    });

  program
    .command('pilot')
    .description('run Pilot alone: xDS over ADS on 15010 (plain) and 15012 (TLS), monitoring on 15014')
    .requiredOption('--cluster <name>')
    .requiredOption('--address <ip>', 'address to bind 15010, 15012 and 15014 on; 15010 is plain xDS, so it must be a loopback or the cluster network\'s own address (0.0.0.0 / :: refused without --plain-xds-any-address)')
    .option('--plain-xds-any-address', 'allow --address 0.0.0.0 / :: although it exposes plain, unauthenticated xDS on 15010 to every network')
    .option('--trust-domain <domain>', TRUST_DOMAIN_HELP)
    .option('--mesh-config <file>', MESH_CONFIG_HELP)
    .requiredOption('--ca-dir <dir>', "this cluster's plug-in CA folder; signs the 15012 serving certificate")
    .option('--registry-file <file>', 'workloads.json of the file registry (needed with it)')
    .option('--registries <names>', 'comma-separated registries: file, kube, federation (default file,federation)')
    .option('--config-stores <names>', 'comma-separated config stores: file, crd (default file)')
    .option('--kubeconfig <file>', 'the API server of the kube registry and the crd config store (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--namespace <ns>', "in Kubernetes: the control plane's namespace, where its Leases live (default meshfed-system)")
    .option('--config-dir <dir>', 'watched folder of Istio-kind YAML (needed with the folder config store)')
    .option('--gateway-address <ip>', "this cluster's east-west gateway address (default: the registry file's)")
    .option('--dns-resolvers <host:port,...>', "DNS servers of DNS-resolved ServiceEntries (default: the proxies' system resolver)")
    .option('--dns-refresh-rate <duration>', 'how often proxies re-resolve DNS clusters when the answer has no TTL (default 60s)')
    .option('--imports-dir <dir>', 'watched folder of imports written by `meshfed federation`')
    .action(async (o: Record<string, string>) => {
      const { startControlPlane } = await import('../control-plane.ts');
      const log = createLogger('pilot', { cluster: o['cluster'] ?? '' });
      const cp = await startControlPlane({
        ...pilotSources(o),
        address: o['address'] ?? '',
        ...(o['plainXdsAnyAddress'] ? { plainXdsAnyAddress: true } : {}),
        caDir: o['caDir'] ?? '',
        namespace: namespaceOption(o),
        discovery: { kind: 'none' },
        ...(o['importsDir'] ? { importsDir: o['importsDir'] } : {}),
        logger: log,
      });
      runUntilSignal('pilot', log, () => cp.close());
    });

  const federation = program
    .command('federation')
    .description("run the federation controller alone: exports to this cluster's Consul datacenter, imports the others into Pilot")
    .requiredOption('--cluster <name>', 'this cluster; also its Consul datacenter')
    .option('--trust-domain <domain>', TRUST_DOMAIN_HELP)
    .option('--mesh-config <file>', MESH_CONFIG_HELP)
    .option('--registry-file <file>', 'workloads.json of the file registry (the same file Pilot reads)')
    .option('--registries <names>', "comma-separated registries, as this cluster's Pilot has them (default file,federation)")
    .option('--config-stores <names>', "comma-separated config stores, as this cluster's Pilot has them (default file)")
    .option('--kubeconfig <file>', 'the API server of the kube registry and the crd config store; ServiceImports are written there (default: KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--namespace <ns>', "in Kubernetes: the control plane's namespace, where the ServiceImport writer's Lease lives (default meshfed-system)")
    .option('--config-dir <dir>', 'folder of Istio-kind YAML holding the ServiceExports (the same folder Pilot reads; needed with the folder config store)')
    .option('--gateway-address <ip>', "this cluster's east-west gateway address (default: the registry file's)")
    .requiredOption('--root-cert <file>', "the mesh's root certificate; published, and required of every peer")
    .requiredOption('--imports-dir <dir>', 'folder to write imports into, for `meshfed pilot --imports-dir`')
    .addOption(discoveryOption('consul'))
    .option('--consul <host:port>', 'local Consul agent HTTP address', '127.0.0.1:8500')
    .option('--memory-discovery <url>', 'embedded discovery URL')
    .option('--monitoring <host:port>', 'serve /ready, /debug/federationz and /debug/configz here');
  withConsulSecurityOptions(federation)
    .action(async (o: Record<string, string>) => {
      const log = createLogger('federation', { cluster: o['cluster'] ?? '' });
      const discovery = discoveryChoice(o);
      if (discovery.kind === 'none') return exitWith('--discovery none: the federation controller needs consul or memory');
      const { startFederationProcess } = await import('../federation-process.ts');
      const f = await startFederationProcess({
        ...pilotSources(o),
        rootCertFile: o['rootCert'] ?? '',
        importsDir: o['importsDir'] ?? '',
        namespace: namespaceOption(o),
        discovery,
        ...(o['monitoring'] ? { monitoring: hostPort('--monitoring', o['monitoring']) } : {}),
        logger: log,
      });
      runUntilSignal('federation', log, () => f.close());
    });
}
