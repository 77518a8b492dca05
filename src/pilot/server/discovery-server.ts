import type { MeshConfig } from '../config/mesh-config.ts';
import * as grpc from '@grpc/grpc-js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { DnsSettings } from '../model/snapshot.ts';
import type { Registry } from '../../common/prom.ts';
import type { Logger } from '../../common/log.ts';
import { PORTS } from '../../common/ports.ts';
import type { ProxyNode } from '../../xds/node.ts';
import { AdsServer } from '../ads/ads-server.ts';
import type { AdsMetrics } from '../ads/push-interface.ts';
import { generate, generationKey } from '../generators/generate.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { workloadKey } from '../model/snapshot.ts';
import { createPilot, type Pilot, type PilotOptions, PilotOptionsError } from '../pilot.ts';
import { MemoryCertificateProvider } from '../../citadel/certificate-provider.ts';
import { meshServerCredentials } from '../../citadel/mesh-credentials.ts';
import { discoveryMetrics, jwksFetchMetrics } from './discovery-metrics.ts';
import { xdsPeerAuthorizer } from './xds-peer-authorizer.ts';
import { proxylessFindingsReport } from './proxyless-findings-report.ts';

/** Options of a discovery server; checked once by `createDiscoveryServer`. */
export interface DiscoveryServerOptions {
  cluster: string;
  trustDomain: string;
  /**
   * Address both xDS ports bind on. 15010 is plain and unauthenticated (local clients, proxyless
   * gRPC), so this must be a loopback or the cluster network's own address: 0.0.0.0 and :: are
   * refused unless `plainXdsAnyAddress` says the exposure is intended.
   */
  address: string;
  plainXdsAnyAddress?: boolean;
  /** The `file` registry's workloads.json (required when `registries` has `file`). */
  registryFile?: string;
  /** Pilot's registries by name (PilotOptions.registries). */
  registries?: readonly string[];
  /** The API server of the `kube` registry and `crd` config store (PilotOptions.kubeconfig). */
  kubeconfig?: string | KubeConfig;
  /** The `file` config store's folder (required with it). */
  configDir?: string;
  /** Pilot's config stores by name (PilotOptions.configStores). */
  configStores?: readonly string[];
  /** Status write-back of the `crd` config store (PilotOptions.configStatus). */
  configStatus?: PilotOptions['configStatus'];
  /** Defaults to the registry file's `gatewayAddress`. */
  gatewayAddress?: string;
  /** Mesh-wide DNS settings of DNS-resolved clusters (see PilotOptions). */
  dns?: DnsSettings;
  /** The mesh config (PilotOptions.mesh). */
  mesh?: MeshConfig;
  /** Reads imports written by a federation controller in another process. */
  importsDir?: string;
  /** The 15012 serving certificate chain and key, PEM (issued by the cluster's CA); replace it with `setServing`. */
  serving: { certChainPem: string; privateKeyPem: string };
  /** The mesh trust bundle (PEM roots) that 15012 verifies client certificates against. */
  clientRootsPem: string;
  /** Defaults: 15010 and 15012. */
  ports?: Partial<{ xdsPlain: number; xdsTls: number }>;
  /** Where Pilot's metrics register (`pilot_xds`, `pilot_xds_pushes`, ...). */
  metrics: Registry;
  /** Also sees every push observation (benchmarks); never throws. */
  observer?: AdsMetrics;
  /** Pilot's quiet period before a rebuild; default 50 ms. */
  debounceMs?: number;
  logger: Logger;
}

/**
 * Pilot as a server, the composition root of everything Pilot owns: the registries, the config
 * store and snapshot building (`createPilot`), the ADS server with its generators, the gRPC servers
 * on 15010 (plain, ADS only) and 15012 (TLS, ADS plus whatever is hosted alongside), Pilot's
 * metrics, and the data of its debug endpoints.
 *
 * Lifecycle: `createDiscoveryServer` builds the first snapshot and binds nothing; hosts add their
 * services to `secureServer` (Citadel, Mixer), then call `listen()` once; `close()` ends every
 * stream and shuts both servers down. Every snapshot Pilot rebuilds is pushed to the ADS server
 * whole: scope `endpoints` when only endpoint sets changed, `full` otherwise, nothing when nothing
 * a generator reads changed.
 */
export interface DiscoveryServer {
  readonly pilot: Pilot;
  readonly ads: AdsServer<Snapshot>;
  /** The 15012 server; add hosted services before `listen()`. */
  readonly secureServer: grpc.Server;
  /** host:port of 15010 and 15012; the real ports once bound (so port 0 works in tests). */
  readonly addresses: { readonly plain: string; readonly secure: string };
  /** The `xds` readiness check: true once both ports are bound, else which are not. */
  xdsReady(): true | string;
  /** Data of Pilot's debug endpoints, by path (`/debug/adsz`, `/debug/configz`). */
  readonly debug: Readonly<Record<string, () => unknown>>;
  /**
   * Replaces the 15012 serving certificate (renewal). Open connections stay up; new handshakes
   * use the new certificate.
   */
  setServing(serving: { certChainPem: string; privateKeyPem: string }): void;
  /** Replaces the roots client certificates are verified against (trust bundle change). */
  setClientRoots(rootsPem: string): void;
  /** Binds 15010, then 15012. On failure nothing stays bound and the error is rethrown. */
  listen(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '[::]', '::0']);

function validate(opts: DiscoveryServerOptions): void {
  if (typeof opts.address !== 'string' || opts.address === '') throw new PilotOptionsError('invalid address: must be a non-empty string');
  if (UNSPECIFIED.has(opts.address) && opts.plainXdsAnyAddress !== true) {
    throw new PilotOptionsError(
      `invalid address: ${opts.address} would expose plain, unauthenticated xDS (15010) on every network; bind a loopback or the cluster network's address, or set plainXdsAnyAddress`,
    );
  }
  const s = opts.serving;
  if (!s || typeof s.certChainPem !== 'string' || typeof s.privateKeyPem !== 'string' || s.certChainPem === '' || s.privateKeyPem === '') {
    throw new PilotOptionsError('invalid serving: needs certChainPem and privateKeyPem');
  }
  if (typeof opts.clientRootsPem !== 'string' || !opts.clientRootsPem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new PilotOptionsError('invalid clientRootsPem: must hold at least one PEM certificate');
  }
  for (const [k, v] of Object.entries(opts.ports ?? {})) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 65535)) throw new PilotOptionsError(`invalid ports.${k}: must be a port number`);
  }
}

export async function createDiscoveryServer(opts: DiscoveryServerOptions): Promise<DiscoveryServer> {
  validate(opts);
  const log = opts.logger;
  const ports = { xdsPlain: PORTS.xdsPlain, xdsTls: PORTS.xdsTls, ...opts.ports };
  const pilot = await createPilot({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    ...(opts.registryFile !== undefined ? { registryFile: opts.registryFile } : {}),
    ...(opts.registries !== undefined ? { registries: opts.registries } : {}),
    ...(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}),
    ...(opts.configDir !== undefined ? { configDir: opts.configDir } : {}),
    ...(opts.configStores !== undefined ? { configStores: opts.configStores } : {}),
    ...(opts.configStatus !== undefined ? { configStatus: opts.configStatus } : {}),
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    ...(opts.dns !== undefined ? { dns: opts.dns } : {}),
    ...(opts.mesh !== undefined ? { mesh: opts.mesh } : {}),
    jwks: { onFetch: jwksFetchMetrics(opts.metrics) },
    ...(opts.importsDir !== undefined ? { importsDir: opts.importsDir } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    logger: log.child({ component: 'pilot' }),
  });
  let ads: AdsServer<Snapshot> | undefined;
  const metrics = discoveryMetrics(opts.metrics, () => ads?.status().length ?? 0, opts.observer);
  const server = new AdsServer<Snapshot>({
    generate,
    generationKey,
    snapshot: pilot.snapshot(),
    metrics,
    logger: log.child({ component: 'ads' }),
  });
  ads = server;

  const findings = proxylessFindingsReport(opts.metrics, log.child({ component: 'proxyless' }));
  findings.update(pilot.snapshot());
  pilot.onPush((snapshot, reason, change) => {
    findings.update(snapshot);
    if (change.scope === 'none') return;
    const own = change.workloads;
    const fullFor = own.size > 0 ? (n: ProxyNode) => own.has(workloadKey(n.cluster, n.namespace, n.workload)) : undefined;
    server.push({ snapshot, reason, changedAt: change.changedAt, scope: change.scope, ...(fullFor ? { fullFor } : {}) });
  });

  const plain = new grpc.Server();
  server.addTo(plain);
  const secure = new grpc.Server();
  // 15012 asks for a client certificate but lets a handshake without one through, so a workload
  // without a certificate yet reaches Citadel with its bootstrap token; ADS refuses such streams.
  server.addTo(secure, xdsPeerAuthorizer(opts.trustDomain, opts.metrics));
  const identity = new MemoryCertificateProvider({ identity: opts.serving, rootsPem: opts.clientRootsPem });
  const addresses = { plain: `${opts.address}:${ports.xdsPlain}`, secure: `${opts.address}:${ports.xdsTls}` };
  const bound = { plain: false, secure: false };
  let closed = false;
  let shut = false;

  return {
    pilot,
    ads: server,
    secureServer: secure,
    addresses,
    xdsReady() {
      const unbound = [...(bound.plain ? [] : [addresses.plain]), ...(bound.secure ? [] : [addresses.secure])];
      return unbound.length === 0 ? true : `ADS not bound yet on ${unbound.join(', ')}`;
    },
    debug: {
      '/debug/adsz': () => server.status(),
      '/debug/configz': () => ({
        errors: pilot.configErrors().map(String),
        registryErrors: pilot.registryErrors(),
        proxylessFindings: findings.current(),
        version: pilot.snapshot().version,
      }),
    },
    setServing(serving) {
      identity.setIdentity(serving);
    },
    setClientRoots(rootsPem) {
      identity.setRoots(rootsPem);
    },
    async listen() {
      try {
        addresses.plain = `${opts.address}:${await bind(plain, addresses.plain, grpc.ServerCredentials.createInsecure())}`;
        bound.plain = true;
        const creds = meshServerCredentials(identity);
        addresses.secure = `${opts.address}:${await bind(secure, addresses.secure, creds)}`;
        bound.secure = true;
      } catch (e: unknown) {
        plain.forceShutdown();
        secure.forceShutdown();
        shut = true;
        bound.plain = false;
        bound.secure = false;
        throw e;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      server.close();
      await pilot.close();
      if (!shut) await Promise.all([shutdown(plain), shutdown(secure)]);
    },
  };
}

/** Resolves with the bound port. */
function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port))));
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
