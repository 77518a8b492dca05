import * as grpc from '@grpc/grpc-js';
import { Gauge, Registry } from '../common/prom.ts';
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
import { AdsServer, createPilot } from '../pilot/index.ts';
import { CONTROL_PLANE_SERVER_NAME } from './control-plane-name.ts';
import { startMonitoringServer } from './monitoring-server.ts';
import { certificateCheck, federationCheck, type ReadinessCheck, readinessReport } from './readiness-report.ts';

/**
 * A cluster's control plane, the way istiod hosts it: Pilot (xDS) always, and, when asked for,
 * Citadel (CA), Mixer (access-log sink) and the federation controller in the same process.
 * `meshfed controlplane` runs all four; `meshfed pilot` runs Pilot alone, with its imports coming
 * from a `meshfed federation` process through the imports folder.
 *
 * - 15010: plain gRPC, ADS only (local clients, proxyless gRPC).
 * - 15012: TLS gRPC with a serving certificate from this cluster's intermediate: ADS, and CA and
 *   ALS when hosted.
 * - 15014: HTTP monitoring: /ready, /metrics, /debug/adsz, /debug/configz, /debug/federationz.
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
  registryFile: string;
  configDir: string;
  /** Defaults to the registry file's `gatewayAddress`. */
  gatewayAddress?: string;
  /** Hosts Citadel on 15012, authenticating callers by these bootstrap tokens. */
  citadel?: { tokensFile: string };
  /** Hosts Mixer's access-log sink on 15012 and its metrics on /metrics. */
  mixer?: boolean;
  /** Hosts the federation controller with this discovery backend (`none`: not hosted). */
  discovery: DiscoveryChoice;
  /** Reads imports written by a federation controller in another process. */
  importsDir?: string;
  ports?: Partial<{ xdsPlain: number; xdsTls: number; monitoring: number }>;
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
  const ports = { xdsPlain: PORTS.xdsPlain, xdsTls: PORTS.xdsTls, monitoring: PORTS.monitoring, ...opts.ports };

  const pilot = await createPilot({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    registryFile: opts.registryFile,
    configDir: opts.configDir,
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
    ...(opts.importsDir !== undefined ? { importsDir: opts.importsDir } : {}),
    logger: log.child({ component: 'pilot' }),
  });
  const ads = new AdsServer({ generate: (node, typeUrl) => pilot.generate(node, typeUrl), logger: log.child({ component: 'ads' }) });

  const registry = new Registry();
  new Gauge({
    name: 'pilot_xds',
    help: 'Number of endpoints connected to this pilot using XDS.',
    registers: [registry],
    collect() {
      this.set(ads.status().length);
    },
  });

  const serving = issueServingCertificate({
    ca,
    dnsNames: [CONTROL_PLANE_SERVER_NAME, 'istiod.istio-system.svc.cluster.local'],
    ipAddresses: [opts.address],
    spiffeId: formatSpiffeId({ trustDomain: opts.trustDomain, namespace: 'istio-system', serviceAccount: 'istiod' }),
    ttlSeconds: 24 * 3600,
  });

  const plain = new grpc.Server();
  ads.addTo(plain);
  const secure = new grpc.Server();
  ads.addTo(secure);
  if (opts.citadel) {
    const citadelLog = log.child({ component: 'citadel' });
    const citadel = createCitadelService({
      ca,
      trustDomain: opts.trustDomain,
      authenticate: bootstrapTokenAuthenticator(opts.citadel.tokensFile, citadelLog),
      logger: citadelLog,
    });
    secure.addService(citadel.definition, citadel.implementation);
  }
  if (opts.mixer) {
    const mixer = createMixerService({ registry, logger: log.child({ component: 'mixer' }) });
    secure.addService(mixer.definition, mixer.implementation);
  }

  const plainAddress = `${opts.address}:${ports.xdsPlain}`;
  const secureAddress = `${opts.address}:${ports.xdsTls}`;
  const bound = { plain: false, secure: false };
  let federation: FederationHandle | undefined;
  const checks: Record<string, ReadinessCheck> = {
    xds: () => {
      const unbound = [...(bound.plain ? [] : [plainAddress]), ...(bound.secure ? [] : [secureAddress])];
      return unbound.length === 0 ? true : `ADS not bound yet on ${unbound.join(', ')}`;
    },
    ca: certificateCheck({ serving, ...(opts.citadel ? { signer: ca.cert } : {}) }),
    ...(opts.discovery.kind !== 'none' ? { federation: federationCheck(() => federation) } : {}),
  };

  const monitoring = await startMonitoringServer({
    host: opts.address,
    port: ports.monitoring,
    metrics: registry,
    ready: () => readinessReport(checks),
    json: {
      '/debug/adsz': () => ads.status(),
      '/debug/configz': () => ({
        errors: pilot.configErrors().map(String),
        registryErrors: pilot.registryErrors(),
        version: pilot.snapshot().version,
      }),
      '/debug/federationz': () => federation?.status() ?? { disabled: true },
    },
  });

  try {
    await bind(plain, plainAddress, grpc.ServerCredentials.createInsecure());
    bound.plain = true;
    await bind(
      secure,
      secureAddress,
      grpc.ServerCredentials.createSsl(null, [
        { private_key: Buffer.from(serving.privateKeyPem), cert_chain: Buffer.from(serving.certChainPem) },
      ]),
    );
    bound.secure = true;
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
    ads.close();
    pilot.close();
    plain.forceShutdown();
    secure.forceShutdown();
    await monitoring.close();
    throw e;
  }

  pilot.onPush((_snap, reason) => {
    ads.push(reason);
    federation?.update(pilot.exportState());
  });

  const hosted = ['pilot', ...(opts.citadel ? ['citadel'] : []), ...(opts.mixer ? ['mixer'] : []), ...(federation ? ['federation'] : [])];
  log.info({ address: opts.address, ports, hosted }, 'control plane started; /ready reports when it is ready');

  return {
    async close(): Promise<void> {
      await federation?.close();
      ads.close();
      pilot.close();
      await monitoring.close();
      await Promise.all([shutdown(plain), shutdown(secure)]);
    },
  };
}

/** The discovery backend a federation controller reaches Consul (or the embedded store) through. */
export function discoveryBackend(choice: Exclude<DiscoveryChoice, { kind: 'none' }>, cluster: string): DiscoveryBackend {
  return choice.kind === 'consul'
    ? createDiscoveryBackend('consul', { host: choice.host, port: choice.port })
    : createDiscoveryBackend('memory', { url: choice.url, datacenter: cluster });
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err) => (err ? reject(err) : resolve())));
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
