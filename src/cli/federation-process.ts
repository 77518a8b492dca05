import type { MeshConfig } from '../pilot/config/mesh-config.ts';
import { readFile } from 'node:fs/promises';
import { watchFileContents } from '../common/file-content-watch.ts';
import { Registry } from '../common/prom.ts';
import type { Logger } from '../common/log.ts';
import { loadKubeConfig } from '../common/kube-config.ts';
import { createImportFolderSink, fanOutImportSink, type ImportSink, registerFederationTrustMetrics, startFederation } from '../federation/index.ts';
import { createPilot } from '../pilot/index.ts';
import type { LeaseHeldWriter, LeaseTiming } from './control-plane-kube.ts';
import { type DiscoveryChoice, discoveryBackend } from './control-plane.ts';
import { type MonitoringServer, startMonitoringServer } from './monitoring-server.ts';
import { federationCheck, readinessReport } from './readiness-report.ts';

/**
 * The federation controller in its own process (`meshfed federation`). It reads the same sources
 * as its cluster's Pilot (the workload registry and the config folder, where the ServiceExports
 * are), the way a controller in Kubernetes watches the same API objects as istiod, and it hands
 * imports to Pilot through the imports folder (`meshfed pilot --imports-dir`). In Kubernetes (the
 * `kube` registry or the `crd` config store) it also writes the ServiceImports of what it imports,
 * under the Lease `meshfed-service-imports` in `namespace` (control-plane-kube.ts).
 */
export interface FederationProcessOptions {
  cluster: string;
  trustDomain: string;
  /** The mesh config (`--mesh-config`), as its cluster's Pilot has it. */
  mesh?: MeshConfig;
  /** The `file` registry's workloads.json (required when `registries` has `file`). */
  registryFile?: string;
  /** The model's registries by name, as its cluster's Pilot has them (default `file`, `federation`). */
  registries?: readonly string[];
  /** The model's config stores by name, as its cluster's Pilot has them (default `file`). */
  configStores?: readonly string[];
  /** The API server of the `kube` registry and the `crd` config store; ServiceImports are written there. */
  kubeconfig?: string;
  /** The `file` config store's folder (required with it). */
  configDir?: string;
  /** The control plane's namespace, where the ServiceImport writer's Lease lives (default `meshfed-system`). */
  namespace?: string;
  /** Lease timing of the ServiceImport writer (tests shorten it). */
  leaseTiming?: LeaseTiming;
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
  const kube = (opts.registries ?? []).includes('kube') || (opts.configStores ?? []).includes('crd');
  const kubeConfig = kube ? await loadKubeConfig('federation', opts.kubeconfig) : undefined;
  if (kubeConfig && !kubeConfig.ok) throw new Error(kubeConfig.errors.join('; '));
  const model = await createPilot({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    ...(opts.mesh !== undefined ? { mesh: opts.mesh } : {}),
    ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
    ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
    ...(opts.configStores !== undefined ? { configStores: opts.configStores } : {}),
    ...(kubeConfig?.ok ? { kubeconfig: kubeConfig.value } : {}),
    ...(opts.configDir !== undefined ? { configDir: opts.configDir } : {}),
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    logger: log.child({ component: 'model' }),
  });
  const folder = createImportFolderSink(opts.importsDir, log.child({ component: 'imports' }));
  let sink: ImportSink = folder;
  let serviceImports: LeaseHeldWriter | undefined;
  if (kubeConfig?.ok) {
    const { leaseIdentity, startServiceImportSync } = await import('./control-plane-kube.ts');
    const writer = startServiceImportSync({
      kubeConfig: kubeConfig.value,
      namespace: opts.namespace ?? 'meshfed-system',
      identity: leaseIdentity(),
      logger: log.child({ component: 'service-imports' }),
      ...(opts.leaseTiming !== undefined ? { lease: opts.leaseTiming } : {}),
    });
    serviceImports = writer;
    sink = fanOutImportSink([folder, writer], (e) => log.error({ err: String(e) }, 'import sink failed'));
  }
  const metrics = new Registry();
  const federation = await startFederation({
    cluster: opts.cluster,
    backend: discoveryBackend(opts.discovery, opts.cluster),
    rootCertPem,
    sink,
    ttlSeconds: opts.ttlSeconds ?? 15,
    logger: log,
    metrics,
  });
  federation.update(model.exportState());
  model.onPush(() => federation.update(model.exportState()));
  registerFederationTrustMetrics(metrics, () => federation);
  // A root rotation rewrites the bundle file: republished and peers re-checked, no restart.
  const roots = watchFileContents([opts.rootCertFile], log, { what: 'trust bundle', initial: [rootCertPem] }, ([pem = '']) => federation.setRoots(pem));

  let monitoring: MonitoringServer | undefined;
  if (opts.monitoring) {
    monitoring = await startMonitoringServer({
      ...opts.monitoring,
      ready: () => readinessReport({ federation: federationCheck(() => federation) }),
      metrics,
      json: {
        '/debug/federationz': () => federation.status(),
        '/debug/configz': () => ({ errors: model.configErrors().map(String), registryErrors: model.registryErrors() }),
      },
    });
  }
  log.info({ importsDir: opts.importsDir, monitoring: opts.monitoring }, 'federation started; /ready reports its first sync');

  return {
    async close() {
      roots.close();
      await federation.close();
      await serviceImports?.close();
      await model.close();
      folder.close();
      await monitoring?.close();
    },
  };
}
