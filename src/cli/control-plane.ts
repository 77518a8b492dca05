import type { MeshConfig } from '../pilot/config/mesh-config.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from '../common/prom.ts';
import type { DnsSettings } from '../pilot/model/snapshot.ts';
import {
  type Authenticator,
  bootstrapTokenAuthenticator,
  boundTokenAuthenticator,
  createCitadelService,
  formatSpiffeId,
  issueServingCertificate,
  chainRootFingerprint,
  loadCa,
  tokenReviewAuthenticator,
} from '../citadel/index.ts';
import { watchCaFolder } from '../citadel/ca-folder-watch.ts';
import { loadKubeConfig } from '../common/kube-config.ts';
import type { Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import {
  createDiscoveryBackend,
  createExportConflictTracker,
  type ConsulTlsOptions,
  type DiscoveryBackend,
  fanOutImportSink,
  type FederationHandle,
  type ImportSink,
  registerFederationTrustMetrics,
  startFederation,
} from '../federation/index.ts';
import { createMixerService } from '../mixer/index.ts';
import { createDiscoveryServer } from '../pilot/index.ts';
import { controlPlaneServiceHost, startWebhookServer, type WebhookServer, webhookConfigurationNames } from '../webhooks/index.ts';
import type { LeaseHeldWriter, LeaseTiming } from './control-plane-kube.ts';
import { CONTROL_PLANE_SERVER_NAME } from './control-plane-name.ts';
import { startMonitoringServer } from './monitoring-server.ts';
import { certificateCheck, federationCheck, type ReadinessCheck, readinessReport } from './readiness-report.ts';
import { renewServingCertificate, type ServingRenewal } from '../citadel/serving-renewal.ts';
import { CertificateMetrics } from '../common/cert-metrics.ts';

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
 * In Kubernetes (the `kube` registry or the `crd` config store), it also writes to its own cluster,
 * each writer under its own Lease in `namespace` so that one replica writes (control-plane-kube.ts):
 * status of the custom resources (`meshfed-config-status`; with federation hosted, ServiceExports'
 * `Conflict` from comparing this cluster's exports with the imported ones, export-conflict-tracker.ts), the ServiceImports of what federation
 * imports (`meshfed-service-imports`), and the `meshfed-ca-root-cert` ConfigMap in every namespace
 * plus the caBundle of its own webhook configurations (`meshfed-root-cert`).
 *
 * `/ready` (200 when every check passes, else 503; see readiness-report.ts) checks:
 * - `xds`: 15010 and 15012 are bound (Pilot built its first snapshot before either binds);
 * - `ca`: the 15012 serving certificate is unexpired, and so is the intermediate when Citadel is
 *   hosted (the CA files were read and checked by loadCa, and signed that certificate);
 * - `federation`, only when the controller is hosted: its first full sync is done;
 * - `kube`, only in Kubernetes: the first list of the custom resources (and the kube registry's
 *   first try) is in, so a proxy is not served a snapshot without the cluster's configuration.
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
  /** Pilot's config stores by name (default `file`); see src/pilot/config/config-store-factory.ts. */
  configStores?: readonly string[];
  /**
   * The API server of the `kube` registry, the `crd` config store, Citadel's TokenReview and the
   * writers: a kubeconfig file (default: client-node's, e.g. in-cluster).
   */
  kubeconfig?: string;
  /** The `file` config store's folder (required with it). */
  configDir?: string;
  /** The control plane's namespace: its Leases live there, and it names the webhook configurations. Default `meshfed-system`. */
  namespace?: string;
  /** Defaults to the registry file's `gatewayAddress`. */
  gatewayAddress?: string;
  /** Mesh-wide DNS settings of DNS-resolved clusters (`--dns-resolvers`, `--dns-refresh-rate`). */
  dns?: DnsSettings;
  /** The mesh config (`--mesh-config`), validated; its trustDomain equals `trustDomain`. */
  mesh?: MeshConfig;
  /**
   * Hosts Citadel on 15012, authenticating callers by bootstrap tokens, by tokens bound to one
   * workload (`auth: 'jwt'`, the local runner: src/citadel/bound-token.ts) or, with `auth: 'kube'`, projected service-account tokens checked by TokenReview for `audience`
   * (default `meshfed-ca`).
   */
  citadel?:
    | { auth?: 'bootstrap'; tokensFile: string }
    | { auth: 'jwt'; tokenKeyFile: string; issuer: string; audience?: string }
    | { auth: 'kube'; audience?: string };
  /** Lease timing of the Kubernetes writers (tests shorten it). */
  leaseTiming?: LeaseTiming;
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
  /** Allows `address` 0.0.0.0 / :: (DiscoveryServerOptions.plainXdsAnyAddress). */
  plainXdsAnyAddress?: boolean;
  /** Life of the 15012 serving certificate, renewed at half of it (default 24 h; tests shorten it). */
  servingTtlSeconds?: number;
  logger: Logger;
}

export type DiscoveryChoice =
  | { kind: 'consul'; host: string; port: number; token?: string; tls?: ConsulTlsOptions }
  | { kind: 'memory'; url: string }
  | { kind: 'none' };

export interface ControlPlane {
  close(): Promise<void>;
}

export { CONTROL_PLANE_SERVER_NAME };

/** True when the control plane reads Kubernetes, and so runs its writers there. */
function inKubernetes(opts: ControlPlaneOptions): boolean {
  return (opts.registries ?? []).includes('kube') || (opts.configStores ?? []).includes('crd');
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.logger;
  // Replaced live when the CA folder changes (a root rotation): see `watchCaFolder` below.
  let ca = await loadCa(opts.caDir);
  const kube = inKubernetes(opts);
  const namespace = opts.namespace ?? opts.webhooks?.namespace ?? 'meshfed-system';
  let kubeConfig: KubeConfig | undefined;
  if (kube || opts.citadel?.auth === 'kube') {
    const loaded = await loadKubeConfig('controlplane', opts.kubeconfig);
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    kubeConfig = loaded.value;
  }
  const kubeWriters = kube && kubeConfig ? { mod: await import('./control-plane-kube.ts'), kubeConfig } : undefined;
  const identity = kubeWriters?.mod.leaseIdentity() ?? '';
  const writerOptions = (kc: KubeConfig, component: string) => ({
    kubeConfig: kc,
    namespace,
    identity,
    logger: log.child({ component }),
    ...(opts.leaseTiming !== undefined ? { lease: opts.leaseTiming } : {}),
  });
  // ServiceExport Conflict: compared when federation runs here beside the crd store's status writer.
  const conflicts = kubeWriters && opts.configStores?.includes('crd') && opts.discovery.kind !== 'none' ? createExportConflictTracker() : undefined;
  const ports = { xdsPlain: PORTS.xdsPlain, xdsTls: PORTS.xdsTls, monitoring: PORTS.monitoring, webhook: PORTS.webhook, ...opts.ports };

  const servingTtlSeconds = opts.servingTtlSeconds ?? 24 * 3600;
  const issueServing = () =>
    issueServingCertificate({
      ca,
      dnsNames: [CONTROL_PLANE_SERVER_NAME, 'istiod.istio-system.svc.cluster.local'],
      ipAddresses: [opts.address],
      spiffeId: formatSpiffeId({ trustDomain: opts.trustDomain, namespace: 'istio-system', serviceAccount: 'istiod' }),
      ttlSeconds: servingTtlSeconds,
    });
  let serving = issueServing();
  // The readiness check reads the certificate in use, which the renewal below replaces.
  const servingNow = {
    get notAfter(): Date {
      return serving.notAfter;
    },
  };
  const registry = new Registry();
  const discovery = await createDiscoveryServer({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    address: opts.address,
    ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
    ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
    ...(kubeConfig !== undefined ? { kubeconfig: kubeConfig } : {}),
    ...(opts.configDir !== undefined ? { configDir: opts.configDir } : {}),
    ...(opts.configStores !== undefined ? { configStores: opts.configStores } : {}),
    ...(kubeWriters && opts.configStores?.includes('crd')
      ? { configStatus: { identity, leaseNamespace: namespace, ...(opts.leaseTiming ?? {}), ...(conflicts ? { exportConflicts: conflicts } : {}) } }
      : {}),
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    ...(opts.dns !== undefined ? { dns: opts.dns } : {}),
    ...(opts.mesh !== undefined ? { mesh: opts.mesh } : {}),
    ...(opts.importsDir !== undefined ? { importsDir: opts.importsDir } : {}),
    serving,
    clientRootsPem: ca.bundlePem,
    ...(opts.plainXdsAnyAddress === true ? { plainXdsAnyAddress: true } : {}),
    ports: { xdsPlain: ports.xdsPlain, xdsTls: ports.xdsTls },
    metrics: registry,
    logger: log,
  });
  const { pilot } = discovery;

  if (opts.citadel) {
    const citadelLog = log.child({ component: 'citadel' });
    const c = opts.citadel;
    let authenticate: Authenticator;
    if (c.auth === 'jwt') {
      authenticate = await boundTokenAuthenticator({ publicKeyFile: c.tokenKeyFile, issuer: c.issuer, ...(c.audience ? { audience: c.audience } : {}), logger: citadelLog });
    } else if (c.auth !== 'kube') authenticate = bootstrapTokenAuthenticator(c.tokensFile, citadelLog);
    else if (kubeConfig !== undefined) authenticate = tokenReviewAuthenticator({ kubeConfig, audience: c.audience ?? 'meshfed-ca' });
    else throw new Error('citadel --auth kube: no kubeconfig loaded');
    const citadel = createCitadelService({ ca: () => ca, trustDomain: opts.trustDomain, authenticate, logger: citadelLog });
    discovery.secureServer.addService(citadel.definition, citadel.implementation);
  }
  if (opts.mixer) {
    const mixer = createMixerService({ registry, peerIdentity: { trustDomain: opts.trustDomain }, logger: log.child({ component: 'mixer' }) });
    discovery.secureServer.addService(mixer.definition, mixer.implementation);
  }

  let federation: FederationHandle | undefined;
  if (opts.discovery.kind !== 'none') registerFederationTrustMetrics(registry, () => federation);
  let kubeSynced = false;
  void pilot.synced().then(() => {
    kubeSynced = true;
  });
  const checks: Record<string, ReadinessCheck> = {
    xds: () => discovery.xdsReady(),
    ...(kube ? { kube: () => kubeSynced || 'the first list from the Kubernetes API server is not in yet' } : {}),
    ca: certificateCheck({
      serving: servingNow,
      ...(opts.citadel
        ? {
            signer: {
              get validTo(): string {
                return ca.cert.validTo;
              },
            },
          }
        : {}),
    }),
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
      // What `meshfed ca rotate` waits on: the bundle in use, the root Citadel signs under, and
      // the root the 15012 serving certificate chains to.
      '/debug/trustz': () => ({
        rootFingerprints: ca.roots.map((r) => r.fingerprint256),
        signingRoot: ca.root.fingerprint256,
        intermediate: ca.cert.fingerprint256,
        servingChainRoot: chainRootFingerprint(serving.certChainPem, ca.bundlePem) ?? null,
        ...(federation ? { federationRootFingerprints: federation.status().rootFingerprints } : {}),
      }),
    },
  });

  let webhooks: WebhookServer | undefined;
  let renewWebhookCert: NodeJS.Timeout | undefined;
  let servingRenewal: ServingRenewal | undefined;
  const certificateMetrics = new CertificateMetrics(registry);
  // 15012 (ADS, Citadel, Mixer) renews its serving certificate at half the life it has left, as
  // workloads do; grpc-js swaps the secure context in place, so open streams stay up.
  const startServingRenewal = (): ServingRenewal =>
    renewServingCertificate(serving, {
      issue: issueServing,
      apply: (c) => {
        serving = c;
        discovery.setServing(c);
      },
      what: '15012',
      logger: log,
      metrics: certificateMetrics,
    });
  const writers: LeaseHeldWriter[] = [];
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
    servingRenewal = startServingRenewal();
    if (kubeWriters) {
      const names = opts.webhooks ? webhookConfigurationNames(opts.webhooks.namespace) : undefined;
      writers.push(
        kubeWriters.mod.startRootCertDistribution({
          ...writerOptions(kubeWriters.kubeConfig, 'root-cert'),
          rootCertPem: ca.bundlePem,
          ...(names ? { webhookConfigurations: { validating: [names.validating], mutating: [names.mutating] } } : {}),
        }),
      );
    }
    if (opts.discovery.kind !== 'none') {
      let sink: ImportSink = pilot.federationSink;
      if (kubeWriters) {
        const serviceImports = kubeWriters.mod.startServiceImportSync(writerOptions(kubeWriters.kubeConfig, 'service-imports'));
        writers.push(serviceImports);
        const sinks: ImportSink[] = [pilot.federationSink, serviceImports, ...(conflicts ? [conflicts] : [])];
        sink = fanOutImportSink(sinks, (e) => log.error({ err: String(e) }, 'import sink failed'));
      }
      federation = await startFederation({
        cluster: opts.cluster,
        backend: discoveryBackend(opts.discovery, opts.cluster),
        rootCertPem: ca.bundlePem,
        sink,
        ttlSeconds: opts.federationTtlSeconds ?? 15,
        logger: log.child({ component: 'federation' }),
        metrics: registry,
      });
      federation.update(pilot.exportState());
      conflicts?.updateLocal(pilot.exportState());
    }
  } catch (e: unknown) {
    // A port in use or invalid federation options: stop what started, then fail the start.
    clearInterval(renewWebhookCert);
    servingRenewal?.stop();
    if (kubeWriters) await kubeWriters.mod.closeWriters(writers, log);
    await webhooks?.close();
    await discovery.close();
    await monitoring.close();
    throw e;
  }

  // A root rotation edits the CA folder: the new bundle verifies clients of 15012 and goes to
  // federation, Citadel signs with the new intermediate, and 15012 gets a serving certificate
  // from it, all without a restart (open connections keep going). Inconsistent files (a phase
  // half written) are logged and the material in use is kept until the next change.
  const caWatch = watchCaFolder(opts.caDir, ca, log, (next, intermediateChanged) => {
    ca = next;
    discovery.setClientRoots(next.bundlePem);
    federation?.setRoots(next.bundlePem);
    if (intermediateChanged) {
      servingRenewal?.stop();
      serving = issueServing();
      discovery.setServing(serving);
      servingRenewal = startServingRenewal();
    }
  });

  pilot.onPush(() => {
    const state = pilot.exportState();
    federation?.update(state);
    conflicts?.updateLocal(state);
  });

  const hosted = [
    'pilot',
    ...(opts.citadel ? ['citadel'] : []),
    ...(opts.mixer ? ['mixer'] : []),
    ...(federation ? ['federation'] : []),
    ...(webhooks ? ['webhooks'] : []),
    ...(kubeWriters ? ['kube-writers'] : []),
  ];
  log.info({ address: opts.address, ports, hosted }, 'control plane started; /ready reports when it is ready');

  return {
    async close(): Promise<void> {
      caWatch.close();
      await federation?.close();
      if (kubeWriters) await kubeWriters.mod.closeWriters(writers, log);
      clearInterval(renewWebhookCert);
      servingRenewal?.stop();
      await webhooks?.close();
      await discovery.close();
      await monitoring.close();
    },
  };
}

/** The discovery backend a federation controller reaches Consul (or the embedded store) through. */
export function discoveryBackend(choice: Exclude<DiscoveryChoice, { kind: 'none' }>, cluster: string): DiscoveryBackend {
  return choice.kind === 'consul'
    ? createDiscoveryBackend('consul', {
        host: choice.host,
        port: choice.port,
        ...(choice.token !== undefined ? { token: choice.token } : {}),
        ...(choice.tls !== undefined ? { tls: choice.tls } : {}),
      })
    : createDiscoveryBackend('memory', { url: choice.url, datacenter: cluster });
}
