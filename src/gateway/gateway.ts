import * as grpc from '@grpc/grpc-js';
import { CertificateRotator } from '../citadel/certificate-rotator.ts';
import { meshChannelCredentials } from '../citadel/mesh-credentials.ts';
import { chainRootFingerprint, rootFingerprints } from '../citadel/trust-bundle.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import type { ProxyConfig } from '../xds/config-types.ts';
import { type AdsApiType, AdsClient, PROXY_ADS_API_DEFAULT } from '../xds/index.ts';
import type { NodeIdentityInput } from '../xds/node.ts';
import { prometheusRoute, type RunningHttpServer, startHttpServer } from './admin-server.ts';
import { configDump } from './config-dump.ts';
import { createGatewayDataPlane } from './data-plane.ts';
import { GatewayOptionsError } from './errors.ts';
import { validateGatewayOptions } from './gateway-options.ts';
import { CertificateMetrics } from '../common/cert-metrics.ts';

/** Options of startGateway (the `meshfed gateway` command). Validated once, then frozen. */
export interface StartGatewayOptions {
  /** The gateway's cluster (its network, and `CLUSTER_ID` of its xDS node). */
  cluster: string;
  /** Address to bind every port on. */
  address: string;
  /** Passthrough port; default 15443; 0 picks a free port. */
  port?: number;
  xds: {
    /** Pilot's ADS address, `host:port`. */
    target: string;
    /** TLS name to verify Pilot's certificate against, when it differs from the target host. */
    serverName?: string;
    /** PEM roots that sign Pilot's certificate: TLS when given, else plaintext (15010, local only). */
    rootsPem?: string;
    /** The bootstrap's `ads_config.api_type` (default PROXY_ADS_API_DEFAULT). */
    apiType?: AdsApiType;
  };
  /**
   * Citadel, for the gateway's own workload certificate (`istio-system/istio-eastwestgateway`),
   * presented on 15012 and renewed at half its life. Required with `xds.rootsPem`.
   */
  ca?: { target: string; serverName?: string; token: string | (() => string); trustDomain: string };
  /**
   * The namespace and service account the gateway's node claims and its certificate names
   * (default `istio-system/istio-eastwestgateway`; in Kubernetes its pod's own).
   */
  identity?: { namespace: string; serviceAccount: string };
  /** Admin (/config_dump, /ready) and Prometheus (/stats/prometheus) ports; 0 picks a free port. */
  ports?: Partial<{ admin: number; metrics: number }>;
  /** See GatewayDataPlaneOptions; tests shorten it. */
  helloTimeoutMs?: number;
  /** Passthrough idle timeout (Envoy tcp_proxy `idle_timeout`, default 1 h); see GatewayDataPlaneOptions. */
  idleTimeoutMs?: number;
  /** Open passthrough connections; the next is refused at accept (`downstream_cx_overflow`). */
  maxConnections?: number;
  logger?: Logger;
}

/** `GET /certs`: the gateway's certificate, its trust bundle's root fingerprints and the root its chain reaches. */
function certsReply(certs: CertificateRotator | undefined): { status: number; type: string; body: string } {
  if (!certs) return { status: 404, type: 'text/plain', body: 'no mesh certificate\n' };
  const b = certs.current();
  const body = {
    spiffeId: b.spiffeId,
    notAfter: b.notAfter.toISOString(),
    rootFingerprints: rootFingerprints(b.rootsPem),
    chainRoot: chainRootFingerprint(b.certChainPem, b.rootsPem) ?? null,
  };
  return { status: 200, type: 'application/json', body: `${JSON.stringify(body)}\n` };
}

/** A running east-west gateway. close() stops xDS, the listener and both HTTP servers. */
export interface GatewayHandle {
  port: number;
  adminPort: number;
  metricsPort: number;
  /** The config most recently applied, if any. */
  config(): ProxyConfig | undefined;
  /**
   * Replaces the trust bundle live (the `--roots` file changed): the next connection to 15012
   * verifies against it and the gateway's certificate is renewed at once. No-op without mesh TLS.
   */
  setRoots(rootsPem: string): Promise<void>;
  close(): Promise<void>;
  /**
   * SIGTERM, as the sidecar's drain (Istio's terminationDrainDuration): /ready answers 503
   * DRAINING at once, the passthrough stops accepting, open connections run for up to
   * `graceMs`, then everything is closed.
   */
  drain(graceMs: number): Promise<void>;
}

/** The xDS identity of a cluster's east-west gateway, as Istio's `istio-eastwestgateway`. */
export function gatewayNode(
  cluster: string,
  address: string,
  identity: { namespace: string; serviceAccount: string } = { namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway' },
): NodeIdentityInput {
  return {
    type: 'router',
    ip: address,
    workload: 'istio-eastwestgateway',
    namespace: identity.namespace,
    cluster,
    serviceAccount: identity.serviceAccount,
    labels: { istio: 'eastwestgateway', 'topology.istio.io/network': cluster },
  };
}

/**
 * Starts the east-west gateway: passthrough listener, admin and metrics servers, then the ADS
 * client whose every config is applied to the listener. Resolves once all ports are bound (not
 * when config has arrived: /ready says that). Throws GatewayOptionsError for bad options and
 * rejects with GatewayListenError when a port is taken; nothing is left running on failure.
 */
export async function startGateway(input: StartGatewayOptions): Promise<GatewayHandle> {
  const opts = validateGatewayOptions(input);
  const logger = input.logger ?? createLogger('gateway', { cluster: opts.cluster });
  const plane = createGatewayDataPlane({
    address: opts.address,
    port: opts.port ?? PORTS.eastWestGateway,
    cluster: opts.cluster,
    helloTimeoutMs: opts.helloTimeoutMs,
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
    logger,
  });
  let draining = false;
  const started: { close(): Promise<void> | void }[] = [];
  const closeAll = async (): Promise<void> => {
    const stopping = started.splice(0).reverse();
    for (const s of stopping) await s.close();
  };
  const node = gatewayNode(opts.cluster, opts.address, opts.identity);
  let credentials = grpc.credentials.createInsecure();
  let certs: CertificateRotator | undefined;
  if (opts.xds.rootsPem && opts.ca) {
    const rotator = new CertificateRotator({
      request: {
        target: opts.ca.target,
        rootsPem: opts.xds.rootsPem,
        serverName: opts.ca.serverName ?? opts.xds.serverName ?? opts.ca.target.split(':')[0] ?? '',
        token: opts.ca.token,
        identity: { trustDomain: opts.ca.trustDomain, namespace: node.namespace, serviceAccount: node.serviceAccount },
      },
      logger: logger.child({ sub: 'certificate' }),
      retryInitialMs: 250,
    });
    // Its workload certificate renews at half its life like a sidecar's, with the same metrics (case 28).
    const certificates = new CertificateMetrics(plane.metrics.registry);
    rotator.on('error', (e) => {
      certificates.renewalFailed('default');
      logger.warn({ err: e.message }, 'gateway certificate renewal failed');
    });
    await rotator.start();
    certs = rotator;
    certificates.track('default', () => rotator.current().notAfter);
    const mesh = meshChannelCredentials(rotator, opts.xds.rootsPem);
    credentials = mesh.credentials;
    started.push({
      close: () => {
        mesh.close();
        rotator.close();
      },
    });
  }
  const ads = new AdsClient({
    target: opts.xds.target,
    credentials,
    channelOptions: opts.xds.serverName ? { 'grpc.ssl_target_name_override': opts.xds.serverName } : {},
    apiType: opts.xds.apiType ?? PROXY_ADS_API_DEFAULT,
    node,
    logger: logger.child({ sub: 'ads' }),
  });
  try {
    const gatewayPort = await plane.listen();
    started.push(plane);
    const admin: RunningHttpServer = await startHttpServer(
      'admin',
      opts.address,
      opts.ports?.admin ?? PORTS.sidecarAdmin,
      {
        '/config_dump': () => ({ status: 200, type: 'application/json', body: JSON.stringify(configDump(plane.config(), plane.routes()), null, 2) }),
        // Ready once xDS has been received. A cluster that exports nothing has no SNI listener
        // (Envoy rejects an empty one) and is still a ready gateway that refuses everything.
        '/ready': () =>
          draining
            ? { status: 503, type: 'text/plain', body: 'DRAINING\n' }
            : ads.ready()
            ? { status: 200, type: 'text/plain', body: 'LIVE\n' }
            : { status: 503, type: 'text/plain', body: 'PRE_INITIALIZING\n' },
        '/certs': () => certsReply(certs),
      },
      logger,
      {
        // `meshfed ca rotate` after an intermediate change: one renewal attempt, then the certificate in use.
        '/certs/renew': async () => {
          if (!certs) return { status: 501, type: 'text/plain', body: 'no mesh certificate\n' };
          const before = certs.current().certChainPem;
          await certs.renewNow();
          const reply = certsReply(certs);
          return { ...reply, status: certs.current().certChainPem !== before ? 200 : 503 };
        },
      },
    );
    started.push(admin);
    const metrics = await startHttpServer(
      'metrics',
      opts.address,
      opts.ports?.metrics ?? PORTS.sidecarMetrics,
      { '/stats/prometheus': prometheusRoute(plane.metrics.registry) },
      logger,
    );
    started.push(metrics);
    ads.on('config', (cfg: ProxyConfig) => plane.applyConfig(cfg));
    ads.start();
    started.push({ close: () => ads.close() });
    return {
      port: gatewayPort,
      adminPort: admin.port,
      metricsPort: metrics.port,
      config: () => plane.config(),
      setRoots: async (rootsPem) => {
        if (rootFingerprints(rootsPem).length === 0) throw new GatewayOptionsError('invalid xds.rootsPem: no PEM certificate');
        await certs?.setRoots(rootsPem);
      },
      close: closeAll,
      drain: async (graceMs) => {
        draining = true;
        logger.info({ graceMs, open: plane.connections() }, 'draining: not ready, no new connections');
        await plane.drain(graceMs);
        await closeAll();
      },
    };
  } catch (e: unknown) {
    await closeAll();
    throw e;
  }
}
