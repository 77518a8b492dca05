import { Registry } from '../common/prom.ts';
import type { DnsSettings } from '../pilot/model/snapshot.ts';
import {
  bootstrapTokenAuthenticator,
  createCitadelService,
  formatSpiffeId,
  issueServingCertificate,
  loadCa,
} from '../citadel/index.ts';
import type { Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import {
  createDiscoveryBackend,
  type DiscoveryBackend,
  type FederationHandle,
  startFederation,
} from '../federation/index.ts';
import { createMixerService } from '../mixer/index.ts';
import { createDiscoveryServer } from '../pilot/index.ts';
import { controlPlaneServiceHost, startWebhookServer, type WebhookServer } from '../webhooks/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from './control-plane-name.ts';
import { startMonitoringServer } from './monitoring-server.ts';
import { certificateCheck, federationCheck, type ReadinessCheck, readinessReport } from './readiness-report.ts';

/**
 * A cluster's control plane, the way istiod hosts it: Pilot (xDS) always, and, when asked for,
 * Citadel (CA), Mixer (access-log sink) and the federation controller in the same process.
 * Everything that is Pilot's (registries, config, snapshots, ADS on both ports, its metrics and
 * debug data) is composed by `createDiscoveryServer` in src/pilot; this file only hosts the other
 * components beside it, issues the serving certificate and serves monitoring.
 * `meshfed controlplane` runs all four; `meshfed pilot` runs Pilot alone, with its imports coming
 * from a `meshfed federation` process through the imports folder.
 *
 * - 15010: plain gRPC, ADS only (local clients, proxyless gRPC).
 * - 15012: TLS gRPC with a serving certificate from this cluster's intermediate: ADS, and CA and
 *   ALS when hosted.
 * - 15014: HTTP monitoring: /ready, /metrics, /debug/adsz, /debug/configz, /debug/federationz.
 * - 15017, when `webhooks` is given (`meshfed controlplane`): HTTPS admission webhooks
 *   (`/validate`, `/inject`), with a certificate from this cluster's intermediate for the control
 *   plane Service's names (`meshfed-controlplane.<namespace>.svc`, `….svc.cluster.local`), renewed
 *   at half its life. It binds before the gRPC ports, so `xds` ready means it is serving too.
 *
 * `/ready` (200 when every check passes, else 503; see readiness-report.ts) checks:
 * - `xds`: 15010 and 15012 are bound (Pilot built its first snapshot before either binds);
 * - `ca`: the 15012 serving certificate is unexpired, and so is the intermediate when Citadel is
 *   hosted (the CA files were read and checked by loadCa, and signed that certificate);
 * - `federation`, only when the controller is hosted: its first full sync is done.
 * A Pilot reading imports from `meshfed federation` (`importsDir`) has no federation check: it
 * keeps serving the last imports when that process is gone.
 * 15014 opens before the gRPC ports bind, so it answers 503 while they do.
 */
export interface ControlPlaneOptions {
  cluster: string;
  address: string;
  trustDomain: string;
  /** The cluster's plug-in CA folder: signs the 15012 serving certificate, and workloads' with Citadel. */
  caDir: string;
  /** The `file` registry's workloads.json (required when `registries` has `file`). */
  registryFile?: string;
  /** Pilot's registries by name (default `file`, `federation`); see src/pilot/registry/registry-factory.ts. */
  registries?: readonly string[];
  /** The `kube` registry's kubeconfig file (default: client-node's, e.g. in-cluster). */
  kubeconfig?: string;
  configDir: string;
  /** Defaults to the registry file's `gatewayAddress`. */
  gatewayAddress?: string;
  /** Mesh-wide DNS settings of DNS-resolved clusters (`--dns-resolvers`, `--dns-refresh-rate`). */
  dns?: DnsSettings;
  /** Hosts Citadel on 15012, authenticating callers by these bootstrap tokens. */
  citadel?: { tokensFile: string };
  /** Hosts Mixer's access-log sink on 15012 and its metrics on /metrics. */
  mixer?: boolean;
  /** Hosts the federation controller with this discovery backend (`none`: not hosted). */
  discovery: DiscoveryChoice;
  /** Reads imports written by a federation controller in another process. */
  importsDir?: string;
  /** Serves the admission webhooks on 15017: validation, and sidecar injection with this image. */
  webhooks?: { namespace: string; sidecarImage: string };
  ports?: Partial<{ xdsPlain: number; xdsTls: number; monitoring: number; webhook: number }>;
  federationTtlSeconds?: number;
  logger: Logger;
}

export type DiscoveryChoice =
  | { kind: 'consul'; host: string; port: number }
  | { kind: 'memory'; url: string }
  | { kind: 'none' };

export interface ControlPlane {
  close(): Promise<void>;
}

export { CONTROL_PLANE_SERVER_NAME };

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.logger;
  const ca = await loadCa(opts.caDir);
  const ports = { xdsPlain: PORTS.xdsPlain, xdsTls: PORTS.xdsTls, monitoring: PORTS.monitoring, webhook: PORTS.webhook, ...opts.ports };

  const serving = issueServingCertificate({
    ca,
    dnsNames: [CONTROL_PLANE_SERVER_NAME, 'istiod.istio-system.svc.cluster.local'],
    ipAddresses: [opts.address],
    spiffeId: formatSpiffeId({ trustDomain: opts.trustDomain, namespace: 'istio-system', serviceAccount: 'istiod' }),
    ttlSeconds: 24 * 3600,
  });
  const registry = new Registry();
  const discovery = await createDiscoveryServer({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    address: opts.address,
    ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
    ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    configDir: opts.configDir,
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    ...(opts.dns !== undefined ? { dns: opts.dns } : {}),
    ...(opts.importsDir !== undefined ? { importsDir: opts.importsDir } : {}),
    serving,
    ports: { xdsPlain: ports.xdsPlain, xdsTls: ports.xdsTls },
    metrics: registry,
    logger: log,
  });
  const { pilot } = discovery;

  if (opts.citadel) {
    const citadelLog = log.child({ component: 'citadel' });
    const citadel = createCitadelService({
      ca,
      trustDomain: opts.trustDomain,
      authenticate: bootstrapTokenAuthenticator(opts.citadel.tokensFile, citadelLog),
      logger: citadelLog,
    });
    discovery.secureServer.addService(citadel.definition, citadel.implementation);
  }
  if (opts.mixer) {
    const mixer = createMixerService({ registry, logger: log.child({ component: 'mixer' }) });
    discovery.secureServer.addService(mixer.definition, mixer.implementation);
  }

  let federation: FederationHandle | undefined;
  const checks: Record<string, ReadinessCheck> = {
    xds: () => discovery.xdsReady(),
    ca: certificateCheck({ serving, ...(opts.citadel ? { signer: ca.cert } : {}) }),
    ...(opts.discovery.kind !== 'none' ? { federation: federationCheck(() => federation) } : {}),
  };

  const monitoring = await startMonitoringServer({
    host: opts.address,
    port: ports.monitoring,
    metrics: registry,
    ready: () => readinessReport(checks),
    json: {
      ...discovery.debug,
      '/debug/federationz': () => federation?.status() ?? { disabled: true },
    },
  });

  let webhooks: WebhookServer | undefined;
  let renewWebhookCert: NodeJS.Timeout | undefined;
  try {
    if (opts.webhooks) {
      const host = controlPlaneServiceHost(opts.webhooks.namespace);
      const webhookTls = () => {
        const c = issueServingCertificate({ ca, dnsNames: [host, `${host}.cluster.local`], ipAddresses: [opts.address], ttlSeconds: 24 * 3600 });
        return { keyPem: c.privateKeyPem, certChainPem: c.certChainPem };
      };
      webhooks = await startWebhookServer({
        host: opts.address,
        port: ports.webhook,
        tls: webhookTls(),
        injector: {
          cluster: opts.cluster,
          trustDomain: opts.trustDomain,
          image: opts.webhooks.sidecarImage,
          controlPlaneNamespace: opts.webhooks.namespace,
          controlPlaneHost: host,
        },
        logger: log.child({ component: 'webhooks' }),
      });
      const server = webhooks;
      renewWebhookCert = setInterval(() => server.setCertificate(webhookTls()), 12 * 3600 * 1000);
      renewWebhookCert.unref();
    }
    await discovery.listen();
    if (opts.discovery.kind !== 'none') {
      federation = await startFederation({
        cluster: opts.cluster,
        backend: discoveryBackend(opts.discovery, opts.cluster),
        rootCertPem: ca.rootPem,
        sink: pilot.federationSink,
        ttlSeconds: opts.federationTtlSeconds ?? 15,
        logger: log.child({ component: 'federation' }),
      });
      federation.update(pilot.exportState());
    }
  } catch (e: unknown) {
    // A port in use or invalid federation options: stop what started, then fail the start.
    clearInterval(renewWebhookCert);
    await webhooks?.close();
    await discovery.close();
    await monitoring.close();
    throw e;
  }

  pilot.onPush(() => federation?.update(pilot.exportState()));

  const hosted = [
    'pilot',
    ...(opts.citadel ? ['citadel'] : []),
    ...(opts.mixer ? ['mixer'] : []),
    ...(federation ? ['federation'] : []),
    ...(webhooks ? ['webhooks'] : []),
  ];
  log.info({ address: opts.address, ports, hosted }, 'control plane started; /ready reports when it is ready');

  return {
    async close(): Promise<void> {
      await federation?.close();
      clearInterval(renewWebhookCert);
      await webhooks?.close();
      await discovery.close();
      await monitoring.close();
    },
  };
}

/** The discovery backend a federation controller reaches Consul (or the embedded store) through. */
export function discoveryBackend(choice: Exclude<DiscoveryChoice, { kind: 'none' }>, cluster: string): DiscoveryBackend {
  return choice.kind === 'consul'
    ? createDiscoveryBackend('consul', { host: choice.host, port: choice.port })
    : createDiscoveryBackend('memory', { url: choice.url, datacenter: cluster });
}
