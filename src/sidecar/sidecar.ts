import * as grpc from '@grpc/grpc-js';
// Citadel's workload-side modules, not its index: a sidecar must not load the CA server.
import { CertificateRotator } from '../citadel/certificate-rotator.ts';
import type { KeyAlgorithm } from '../citadel/key-algorithm.ts';
import { meshChannelCredentials } from '../citadel/mesh-credentials.ts';
import { rootFingerprints } from '../citadel/trust-bundle.ts';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import type { ProxyConfig } from '../xds/config-types.ts';
import { ADS_API_TYPES, type AdsApiType, AdsClient, PROXY_ADS_API_DEFAULT, isAdsApiType } from '../xds/index.ts';
import { INBOUND_PASSTHROUGH_SOURCE } from './capture/capture-rules.ts';
import { type OriginalDstReader, originalDstReader } from './capture/original-dst.ts';
import { createDataPlane, type DataPlane, type SidecarPorts } from './data-plane.ts';
import { SidecarOptionsError } from './errors.ts';

/** Options of startSidecar (validated once at the boundary). */
export interface SidecarOptions {
  workload: {
    name: string;
    namespace: string;
    serviceAccount: string;
    cluster: string;
    /** The workload's own address; the sidecar's ports are bound here (listeners: per LDS). */
    address: string;
    labels: Record<string, string>;
    /** The port the app listens on at `address` (reached via the inbound cluster). */
    servicePort: number;
  };
  /**
   * Pilot's ADS over TLS (15012): server verified with rootsPem, name checked as serverName;
   * `apiType` is the bootstrap's `ads_config.api_type` (default PROXY_ADS_API_DEFAULT).
   */
  xds: { target: string; serverName: string; rootsPem: string; apiType?: AdsApiType };
  /**
   * Citadel (15012, same TLS trust as xds) and the workload's credential: a bootstrap token, or a
   * function returning the current one (a projected service-account token re-read at each CSR).
   */
  ca: { target: string; serverName: string; token: string | (() => string); keyAlgorithm?: KeyAlgorithm };
  /** Mixer's access-log sink; TLS with the xds roots unless `plaintext` (local tests only). */
  mixer?: { target: string; serverName?: string; plaintext?: boolean };
  trustDomain: string;
  ports?: Partial<SidecarPorts>;
  /** Where admin (15000) binds: a loopback address or the workload's own (default). Istio's injector uses 127.0.0.1. */
  adminAddress?: string;
  /**
   * Transparent capture (`meshfed sidecar --capture`, behind `meshfed capture-init`'s rules): the
   * node tells Pilot `INTERCEPTION_MODE: REDIRECT`, virtualOutbound reads original destinations
   * (the native SO_ORIGINAL_DST addon: start-up fails clearly without it) and inbound hops to the
   * app leave from 127.0.0.6. Run the sidecar as the uid and gid the rules exclude (1337).
   */
  capture?: boolean;
  logger?: Logger;
}

/** A running sidecar. `close()` stops xDS, certificate renewal and every listener. */
export interface SidecarHandle {
  close(): Promise<void>;
  /** SIGTERM: the data plane drains for up to `graceMs` (DataPlane.drain), xDS kept meanwhile; then close(). */
  drain(graceMs: number): Promise<void>;
  /**
   * Replaces the trust bundle live (the `--roots` file changed): new inbound handshakes, new
   * upstream sessions and the next connection to 15012 verify against it, open connections keep
   * going, and the workload certificate is renewed at once. Throws SidecarOptionsError when the
   * PEM holds no certificate.
   */
  setRoots(rootsPem: string): Promise<void>;
  /** True when xDS is ready, a certificate is loaded and the configured listeners are bound. */
  ready(): boolean;
  urls: { admin: string; metrics: string };
  dataPlane: DataPlane;
}

function validate(opts: SidecarOptions): void {
  const req = (v: unknown, field: string): void => {
    if (typeof v !== 'string' || v === '') throw new SidecarOptionsError(`invalid ${field}`);
  };
  req(opts.xds?.target, 'xds.target');
  req(opts.xds?.serverName, 'xds.serverName');
  req(opts.xds?.rootsPem, 'xds.rootsPem');
  const api: unknown = opts.xds?.apiType;
  if (api !== undefined && !isAdsApiType(api)) throw new SidecarOptionsError(`invalid xds.apiType: must be one of ${ADS_API_TYPES.join(', ')}`);
  req(opts.ca?.target, 'ca.target');
  req(opts.ca?.serverName, 'ca.serverName');
  req(typeof opts.ca?.token === 'function' ? opts.ca.token() : opts.ca?.token, 'ca.token');
  req(opts.trustDomain, 'trustDomain');
  if (opts.mixer) req(opts.mixer.target, 'mixer.target');
  const p = opts.workload?.servicePort;
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new SidecarOptionsError('invalid workload.servicePort');
  if (opts.capture !== undefined && typeof opts.capture !== 'boolean') throw new SidecarOptionsError('invalid capture: must be a boolean');
}

/**
 * Starts a sidecar: obtains the workload certificate from Citadel (renewed at half life), starts
 * the admin, health and metrics ports, connects to Pilot's ADS (node type `sidecar`) and applies
 * every config it receives (listeners bind when LDS names their address). Rejects when the
 * first certificate cannot be obtained permanently (bad token) or a sidecar port cannot be bound.
 */
export async function startSidecar(options: SidecarOptions): Promise<SidecarHandle> {
  validate(options);
  const opts = Object.freeze({ ...options });
  const w = opts.workload;
  const logger = opts.logger ?? createLogger('sidecar', { workload: w.name, cluster: w.cluster });
  let originalDst: OriginalDstReader | undefined;
  if (opts.capture === true) {
    const reader = originalDstReader();
    if (!reader.ok) throw new SidecarOptionsError(`capture: ${reader.errors}`);
    originalDst = reader.value;
  }
  const rotator = new CertificateRotator({
    request: {
      target: opts.ca.target,
      rootsPem: opts.xds.rootsPem,
      serverName: opts.ca.serverName,
      token: opts.ca.token,
      identity: { trustDomain: opts.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount },
      ...(opts.ca.keyAlgorithm ? { keyAlgorithm: opts.ca.keyAlgorithm } : {}),
    },
    logger,
    // `meshfed up` starts sidecars together with the control plane: retry the first certificate
    // soon (250 ms, doubling to 30 s) rather than after a whole second.
    retryInitialMs: 250,
  });
  rotator.on('error', (e) => logger.warn({ err: errorMessage(e) }, 'certificate renewal failed'));
  await rotator.start();

  // 15012 (ADS, Mixer) wants the workload certificate; each new connection presents the latest.
  const mesh = meshChannelCredentials(rotator, opts.xds.rootsPem);
  const tlsChannel = (serverName: string): { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions } => ({
    credentials: mesh.credentials,
    channelOptions: { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName },
  });
  const workload = { name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount, cluster: w.cluster, address: w.address, labels: w.labels };
  const ads = new AdsClient({
    target: opts.xds.target,
    ...tlsChannel(opts.xds.serverName),
    apiType: opts.xds.apiType ?? PROXY_ADS_API_DEFAULT,
    node: {
      type: 'sidecar',
      ip: w.address,
      workload: w.name,
      namespace: w.namespace,
      cluster: w.cluster,
      serviceAccount: w.serviceAccount,
      labels: w.labels,
      ...(originalDst ? { interceptionMode: 'REDIRECT' as const } : {}),
    },
    logger,
  });
  let dataPlane: DataPlane;
  try {
    dataPlane = await createDataPlane({
      workload,
      certificates: rotator,
      ...(opts.ports ? { ports: opts.ports } : {}),
      ...(opts.adminAddress !== undefined ? { adminAddress: opts.adminAddress } : {}),
      ...(originalDst ? { capture: { originalDst, inboundSourceAddress: INBOUND_PASSTHROUGH_SOURCE.v4 } } : {}),
      ...(opts.mixer
        ? {
            accessLog: opts.mixer.plaintext
              ? { target: opts.mixer.target, credentials: grpc.credentials.createInsecure() }
              : { target: opts.mixer.target, ...tlsChannel(opts.mixer.serverName ?? opts.xds.serverName) },
          }
        : {}),
      xdsReady: () => ads.ready(),
      logger,
    });
  } catch (e: unknown) {
    mesh.close();
    rotator.close();
    throw e;
  }
  const apply = (cfg: ProxyConfig): void => {
    void dataPlane.applyConfig(cfg).then((r) => {
      if (!r.ok) for (const err of r.errors) logger.error({ err: err.message, code: err.code }, 'listener not applied');
    });
  };
  ads.on('config', apply);
  let xdsConnected = false;
  let lastConfigAt: number | undefined;
  ads.on('connected', () => {
    xdsConnected = true;
  });
  ads.on('disconnected', () => {
    xdsConnected = false;
  });
  ads.on('config', () => {
    lastConfigAt = Date.now();
  });
  dataPlane.telemetry.trackControlPlane({ connected: () => xdsConnected, lastConfigAt: () => lastConfigAt });
  ads.start();

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    ads.off('config', apply);
    ads.close();
    mesh.close();
    rotator.close();
    await dataPlane.close();
  };
  return {
    setRoots: (rootsPem) => {
      if (rootFingerprints(rootsPem).length === 0) throw new SidecarOptionsError('invalid xds.rootsPem: no PEM certificate');
      return rotator.setRoots(rootsPem);
    },
    ready: () => dataPlane.readiness().ready,
    urls: { admin: dataPlane.urls.admin, metrics: dataPlane.urls.metrics },
    dataPlane,
    close,
    drain: async (graceMs) => {
      await dataPlane.drain(graceMs);
      await close();
    },
  };
}
