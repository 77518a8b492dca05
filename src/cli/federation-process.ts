import { readFile } from 'node:fs/promises';
import type { Logger } from '../common/log.ts';
import { createImportFolderSink, startFederation } from '../federation/index.ts';
import { createPilot } from '../pilot/index.ts';
import { type DiscoveryChoice, discoveryBackend } from './control-plane.ts';
import { type MonitoringServer, startMonitoringServer } from './monitoring-server.ts';
import { federationCheck, readinessReport } from './readiness-report.ts';

/**
 * The federation controller in its own process (`meshfed federation`). It reads the same sources
 * as its cluster's Pilot (the workload registry and the config folder, where the ServiceExports
 * are), the way a controller in Kubernetes watches the same API objects as istiod, and it hands
 * imports to Pilot through the imports folder (`meshfed pilot --imports-dir`).
 */
export interface FederationProcessOptions {
  cluster: string;
  trustDomain: string;
  /** The `file` registry's workloads.json (required when `registries` has `file`). */
  registryFile?: string;
  /** The model's registries by name, as its cluster's Pilot has them (default `file`, `federation`). */
  registries?: readonly string[];
  /** The `kube` registry's kubeconfig file. */
  kubeconfig?: string;
  configDir: string;
  gatewayAddress?: string;
  /** The mesh's root certificate(s): published, and required of every peer. */
  rootCertFile: string;
  importsDir: string;
  discovery: Exclude<DiscoveryChoice, { kind: 'none' }>;
  /**
   * `/ready`, `/debug/federationz` and `/debug/configz` on this address. `/ready` has one check,
   * `federation`: 503 until the controller's first full sync is done (readiness-report.ts).
   */
  monitoring?: { host: string; port: number };
  ttlSeconds?: number;
  logger: Logger;
}

export interface FederationProcess {
  /** Deregisters this cluster's exports; the imports folder is left for the next controller. */
  close(): Promise<void>;
}

export async function startFederationProcess(opts: FederationProcessOptions): Promise<FederationProcess> {
  const log = opts.logger;
  const rootCertPem = await readFile(opts.rootCertFile, 'utf8');
  const model = await createPilot({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
    ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    configDir: opts.configDir,
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    logger: log.child({ component: 'model' }),
  });
  const sink = createImportFolderSink(opts.importsDir, log.child({ component: 'imports' }));
  const federation = await startFederation({
    cluster: opts.cluster,
    backend: discoveryBackend(opts.discovery, opts.cluster),
    rootCertPem,
    sink,
    ttlSeconds: opts.ttlSeconds ?? 15,
    logger: log,
  });
  federation.update(model.exportState());
  model.onPush(() => federation.update(model.exportState()));

  let monitoring: MonitoringServer | undefined;
  if (opts.monitoring) {
    monitoring = await startMonitoringServer({
      ...opts.monitoring,
      ready: () => readinessReport({ federation: federationCheck(() => federation) }),
      json: {
        '/debug/federationz': () => federation.status(),
        '/debug/configz': () => ({ errors: model.configErrors().map(String), registryErrors: model.registryErrors() }),
      },
    });
  }
  log.info({ importsDir: opts.importsDir, monitoring: opts.monitoring }, 'federation started; /ready reports its first sync');

  return {
    async close() {
      model.close();
      sink.close();
      await monitoring?.close();
      await federation.close();
    },
  };
}
