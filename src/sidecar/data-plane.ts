import { adminAddress } from './admin-address.ts';
import type http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { type ClusterStats, createClusterManager } from '../dataplane/cluster/index.ts';
import type { ProxyConfig, SocketAddr } from '../xds/config-types.ts';
import { LISTENER } from '../xds/naming.ts';
import { AccessLogStreamer } from './access-log.ts';
import type { OriginalDstReader } from './capture/original-dst.ts';
import { createAdminServer, createHealthServer, createMetricsServer, type Readiness } from './admin.ts';
import type { CertBundle, CertificateSource } from './cert-source.ts';
import { ListenerBindError, SidecarOptionsError } from './errors.ts';
import { createInboundServer, inboundSecureContext } from './inbound-listener.ts';
import { type ListenerContext, type LocalWorkload, OVERLOAD_REJECT_STAT } from './listener-context.ts';
import { type OverloadOptions, type OverloadState, startOverloadManager, validateOverloadOptions } from '../dataplane/overload/index.ts';
import { createOutboundServer } from './outbound-listener.ts';
import { BOUNDS_STATS, type BoundsStat, type ListenerBounds, validateListenerBounds } from './listener-bounds.ts';
import { encodePeerMetadata } from './peer-metadata.ts';
import { isOutboundTcpListener, TcpListeners } from './tcp-listeners.ts';
import { sidecarTcpConnector } from './tcp-upstream.ts';
import { CLUSTER_STATS, SidecarTelemetry } from './telemetry.ts';
import { Http1Upstream } from './upstream-http1.ts';
import { H2SessionPool } from './upstream-h2-pool.ts';

/** Port numbers of a sidecar; listener ports override the ports in the listener config. */
export interface SidecarPorts {
  outbound: number;
  inbound: number;
  admin: number;
  health: number;
  metrics: number;
}

/** Options of createDataPlane (validated once, then frozen). */
export interface DataPlaneOptions {
  workload: LocalWorkload;
  certificates: CertificateSource;
  /** Overrides; 0 binds an ephemeral port. Admin, health and metrics default to Istio's ports. */
  ports?: Partial<SidecarPorts>;
  /** Where admin (15000) binds: a loopback address or the workload's own (default); see admin-address.ts. */
  adminAddress?: string;
  /** Mixer's access-log sink; when absent, no access logs are sent. */
  accessLog?: { target: string; credentials: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions; flushIntervalMs?: number };
  /** Whether the xDS client holds a complete config; defaults to "a config with listeners was applied". */
  xdsReady?: () => boolean;
  /** Random source for weighted cluster and endpoint picks, in [0, 1). */
  random?: () => number;
  /**
   * Transparent capture (iptables REDIRECT): how virtualOutbound with `use_original_dst` reads a
   * connection's original destination, and the source address of inbound hops to the app
   * (Istio's 127.0.0.6, which the capture rules never redirect again). Without it a listener
   * asking for `use_original_dst` is not bound (a ListenerBindError says why).
   */
  capture?: { originalDst: OriginalDstReader; inboundSourceAddress: string };
  /** Timeouts and limits of the downstream listeners (listener-bounds.ts); defaults follow Envoy's. */
  bounds?: Partial<ListenerBounds>;
  /** Heap-pressure thresholds of the overload manager (dataplane/overload); defaults: shed requests at 95 % of V8's heap limit, refuse connections at 98 %. */
  overload?: Partial<OverloadOptions>;
  logger?: Logger;
}

/**
 * A sidecar's data plane, without xDS or CA clients: it serves whatever ProxyConfig it is given.
 * Contract: `applyConfig` may be called any number of times; each call swaps the config used by
 * the NEXT request (requests in flight finish on the config they started with), binds listeners
 * that appeared or moved (the old socket stops accepting and drains) and closes removed ones.
 */
export interface DataPlane {
  applyConfig(config: ProxyConfig): Promise<Result<void, ListenerBindError[]>>;
  config(): ProxyConfig;
  readiness(): Readiness;
  telemetry: SidecarTelemetry;
  /** The address a listener is bound to (after port overrides), if it is. */
  listenerAddress(name: string): SocketAddr | undefined;
  /** Open outbound mTLS sessions. */
  upstreamSessions(): number;
  /** Per-cluster counters of the cluster layer (active requests, ejections, overflows). */
  clusterStats(): ClusterStats[];
  /** The access-log streamer, when Mixer is configured. */
  accessLog: AccessLogStreamer | undefined;
  urls: { admin: string; health: string; metrics: string };
  /**
   * Graceful shutdown (SIGTERM), as Istio's `terminationDrainDuration`: readiness turns 503
   * (`draining`) at once; every listener stops accepting (new connections are refused), idle
   * HTTP/1.1 connections close and HTTP/2 sessions get GOAWAY; requests in flight finish over
   * the still-open upstream pools for up to `graceMs`; then `close()`. Idempotent with close.
   */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A ProxyConfig with nothing in it (before the first LDS). */
export function emptyProxyConfig(): ProxyConfig {
  return {
    listeners: new Map(),
    routes: new Map(),
    clusters: new Map(),
    endpoints: new Map(),
    versions: { listener: '', route: '', cluster: '', endpoint: '' },
  };
}

interface BoundListener {
  key: string;
  server: http.Server | http2.Http2SecureServer;
  /** virtualOutbound with use_original_dst: the bound socket, which hands connections to `server` or a tcp listener. */
  front?: net.Server;
  address: SocketAddr;
  /** Live HTTP/2 sessions (inbound: from peers; outbound: h2c from the app), closed gracefully when the listener goes away. */
  sessions: Set<http2.ServerHttp2Session>;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: net.Server, host: string, port: number): Promise<Result<SocketAddr, ListenerBindError>> {
  return new Promise((resolve) => {
    const onError = (e: unknown): void => resolve(fail(new ListenerBindError(`cannot bind ${host}:${port}: ${errorMessage(e)}`, { cause: e })));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(ok({ host, port: typeof a === 'object' && a !== null ? a.port : port }));
    });
  });
}

function closeServer(server: net.Server, graceMs: number, force: () => void): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      force();
      resolve();
    }, graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Checks the options once; resolves the admin bind address. */
function validate(opts: DataPlaneOptions): { adminHost: string } {
  const w = opts.workload;
  for (const key of ['name', 'namespace', 'serviceAccount', 'cluster', 'address'] as const) {
    if (typeof w[key] !== 'string' || w[key] === '') throw new SidecarOptionsError(`invalid workload.${key}`);
  }
  for (const [key, port] of Object.entries(opts.ports ?? {})) {
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new SidecarOptionsError(`invalid ports.${key}`);
  }
  const admin = adminAddress(w.address, opts.adminAddress);
  if (!admin.ok) throw new SidecarOptionsError(`invalid adminAddress: ${admin.errors}`);
  return { adminHost: admin.value };
}

export async function createDataPlane(options: DataPlaneOptions): Promise<DataPlane> {
  const { adminHost } = validate(options);
  const bounds = validateListenerBounds(options.bounds);
  const overloadOptions = validateOverloadOptions(options.overload);
  const opts = Object.freeze({ ...options });
  const logger = opts.logger ?? createLogger('sidecar', { workload: opts.workload.name });
  const workload = opts.workload;
  const telemetry = new SidecarTelemetry();
  const overload = startOverloadManager(overloadOptions);
  telemetry.trackOverload(overload);
  const accessLog = opts.accessLog
    ? new AccessLogStreamer({
        ...opts.accessLog,
        node: { type: 'sidecar', ip: workload.address, workload: workload.name, namespace: workload.namespace, cluster: workload.cluster, serviceAccount: workload.serviceAccount, labels: workload.labels },
        logger,
      })
    : undefined;
  let current = emptyProxyConfig();
  let applied = false;
  /** Original destinations of the app connections captureFront serves as HTTP, by `remoteAddress|remotePort`. */
  const appOriginalDsts = new Map<string, SocketAddr>();
  const ctx: ListenerContext = {
    workload,
    config: () => current,
    certificate: () => opts.certificates.current(),
    telemetry,
    accessLog: (r) => accessLog?.log(r),
    accessLogTcp: (r) => accessLog?.logTcp(r),
    clusters: createClusterManager(
      { random: opts.random ?? Math.random },
      { onDnsError: (cluster, e) => logger.warn({ cluster, err: e.message }, 'DNS resolution failed; hosts kept') },
    ),
    random: opts.random ?? Math.random,
    logger,
    overload,
    ...(opts.capture
      ? {
          inboundSourceAddress: opts.capture.inboundSourceAddress,
          originalDst: opts.capture.originalDst,
          appOriginalDst: (address: string, port: number) => appOriginalDsts.get(`${address}|${port}`),
        }
      : {}),
    peerMetadata: encodePeerMetadata({
      workload: workload.name,
      namespace: workload.namespace,
      cluster: workload.cluster,
      serviceAccount: workload.serviceAccount,
      app: workload.labels['app'] ?? workload.name,
      version: workload.labels['version'] ?? 'unknown',
    }),
  };
  const h2Pool = new H2SessionPool(() => opts.certificates.current(), logger);
  const h1 = new Http1Upstream();
  const listeners = new Map<string, BoundListener>();
  const tcpListeners = new TcpListeners(
    ctx,
    sidecarTcpConnector(() => opts.certificates.current(), ctx.peerMetadata, undefined, (cluster) => telemetry.countClusterStat(cluster, CLUSTER_STATS.sslFailVerifySan)),
  );

  const onRotated = (bundle: CertBundle): void => {
    const inbound = listeners.get(LISTENER.virtualInbound);
    if (inbound && 'setSecureContext' in inbound.server) inbound.server.setSecureContext(inboundSecureContext(bundle));
    h2Pool.retire();
    logger.info({ spiffeId: bundle.spiffeId, notAfter: bundle.notAfter.toISOString() }, 'certificate rotated; new sessions use it');
  };
  opts.certificates.on('rotated', onRotated);
  // Istio's SDS name of the workload certificate.
  telemetry.certificates.track('default', () => opts.certificates.current().notAfter);
  const onRenewalFailed = (): void => telemetry.certificates.renewalFailed('default');
  opts.certificates.on('error', onRenewalFailed);

  const src = { config: () => current, certificates: opts.certificates, telemetry, readiness: () => readiness() };
  const aux = [
    { name: 'admin', server: createAdminServer(src), host: adminHost, port: opts.ports?.admin ?? PORTS.sidecarAdmin },
    { name: 'health', server: createHealthServer(src), host: workload.address, port: opts.ports?.health ?? PORTS.sidecarHealth },
    { name: 'metrics', server: createMetricsServer(src), host: workload.address, port: opts.ports?.metrics ?? PORTS.sidecarMetrics },
  ];
  const urls = { admin: '', health: '', metrics: '' };
  for (const a of aux) {
    const bound = await listen(a.server, a.host, a.port);
    if (!bound.ok) {
      await Promise.all(aux.map((x) => closeServer(x.server, 100, () => x.server.closeAllConnections())));
      accessLog?.close();
      opts.certificates.off('rotated', onRotated);
      opts.certificates.off('error', onRenewalFailed);
      throw bound.errors;
    }
    urls[a.name as keyof typeof urls] = `http://${hostForUrl(a.host)}:${bound.value.port}`;
  }

  const desiredPort = (name: string, port: number): number =>
    name === LISTENER.virtualOutbound ? (opts.ports?.outbound ?? port) : name === LISTENER.virtualInbound ? (opts.ports?.inbound ?? port) : port;

  const stopListener = async (l: BoundListener, graceMs = 5000): Promise<void> => {
    for (const s of l.sessions) if (!s.closed) s.close();
    const server = l.server;
    const force = (): void => {
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const s of l.sessions) s.destroy();
    };
    if (l.front) {
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await closeServer(l.front, graceMs, force);
      return;
    }
    await closeServer(server, graceMs, force);
  };

  /**
   * The capture front of virtualOutbound: each connection's original destination port picks a
   * `bind_to_port: false` tcp listener; else virtualOutbound's chain by Envoy's match order (the
   * chain with that destination port, else the chain without one): an HTTP chain goes to the
   * outbound HTTP server, routed by Host; the tcp_proxy default chain (PassthroughFilterChain)
   * dials PassthroughCluster's original destination or refuses (BlackHoleCluster); no chain
   * matching closes the connection, as Envoy does. A connection without a readable original
   * destination is served as HTTP.
   */
  const captureFront = (reader: OriginalDstReader, httpServer: http.Server): net.Server =>
    net.createServer({ allowHalfOpen: true }, (socket) => {
      const dst = reader(socket);
      if (!dst.ok) {
        logger.debug({ err: dst.errors }, 'captured connection without an original destination: served as HTTP');
        httpServer.emit('connection', socket);
        return;
      }
      const tcp = tcpListeners.capturedListener(dst.value.port);
      if (tcp !== undefined) {
        tcpListeners.accept(tcp, socket);
        return;
      }
      const chains = current.listeners.get(LISTENER.virtualOutbound)?.filterChains ?? [];
      const chain = chains.find((c) => c.destinationPort === dst.value.port) ?? chains.find((c) => c.destinationPort === undefined);
      if (chain?.kind === 'http') {
        const key = `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
        appOriginalDsts.set(key, { host: dst.value.address, port: dst.value.port });
        socket.once('close', () => appOriginalDsts.delete(key));
        httpServer.emit('connection', socket);
      } else if (chain?.kind === 'tcp') {
        tcpListeners.acceptDefault(chain, socket, { host: dst.value.address, port: dst.value.port });
      } else {
        logger.debug({ originalDst: `${dst.value.address}:${dst.value.port}` }, 'captured connection matches no virtualOutbound chain: closed');
        socket.destroy();
      }
    });

  /**
   * Envoy's stat layout with Istio's names: connection refusals under `listener.0.0.0.0_<port>.`,
   * the rest under the connection manager's stat prefix `http.<inbound|outbound>_0.0.0.0_<port>.`
   * (snake_case once exposed, e.g. `envoy_http_inbound_0_0_0_0_15006_http2_rx_reset`).
   */
  const boundsStat =
    (name: string, port: number): BoundsStat =>
    (stat) =>
      telemetry.countEnvoyStat(
        stat === BOUNDS_STATS.cxOverflow || stat === OVERLOAD_REJECT_STAT
          ? `listener.0.0.0.0_${port}.${stat}`
          : `http.${name === LISTENER.virtualInbound ? 'inbound' : 'outbound'}_0.0.0.0_${port}.${stat}`,
      );

  const startListener = async (name: string, host: string, port: number, useOriginalDst: boolean): Promise<Result<BoundListener, ListenerBindError>> => {
    const sessions = new Set<http2.ServerHttp2Session>();
    let server: http.Server | http2.Http2SecureServer;
    let front: net.Server | undefined;
    if (name === LISTENER.virtualInbound) {
      if (useOriginalDst) return fail(new ListenerBindError(`use_original_dst on ${name} is not supported`));
      const s = createInboundServer(ctx, h2Pool, bounds, boundsStat(name, port));
      s.on('session', (session: http2.ServerHttp2Session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
      });
      server = s;
    } else {
      const outbound = createOutboundServer(ctx, h2Pool, h1, sessions, bounds, boundsStat(name, port));
      if (useOriginalDst) {
        if (!opts.capture) return fail(new ListenerBindError(`listener ${name} asks for use_original_dst, but this sidecar runs without capture (meshfed sidecar --capture)`));
        front = captureFront(opts.capture.originalDst, outbound);
      }
      server = outbound;
    }
    refuseWhenOverloaded(front ?? server, boundsStat(name, port), overload);
    const bound = await listen(front ?? server, host, port);
    if (!bound.ok) return bound;
    logger.info({ listener: name, address: `${host}:${bound.value.port}`, ...(front ? { useOriginalDst: true } : {}) }, 'listener bound');
    return ok({ key: `${host}:${port}${useOriginalDst ? '|original-dst' : ''}`, server, ...(front ? { front } : {}), address: bound.value, sessions });
  };

  let chain: Promise<unknown> = Promise.resolve();
  let liveBefore = new Set<string>();
  const applyConfig = (config: ProxyConfig): Promise<Result<void, ListenerBindError[]>> => {
    const run = async (): Promise<Result<void, ListenerBindError[]>> => {
      current = config;
      applied = true;
      ctx.clusters.update(config);
      // Sessions to endpoints this config removed are drained; endpoints a DNS cluster resolves
      // at run time never appear in a config, so their sessions are left alone.
      const live = liveUpstreams(config);
      h2Pool.drainEndpoints(new Set([...liveBefore].filter((e) => !live.has(e))));
      liveBefore = live;
      const errors: ListenerBindError[] = [];
      for (const name of [LISTENER.virtualOutbound, LISTENER.virtualInbound]) {
        const want = config.listeners.get(name);
        const existing = listeners.get(name);
        if (!want?.address) {
          if (existing) {
            listeners.delete(name);
            void stopListener(existing);
          }
          continue;
        }
        const port = desiredPort(name, want.address.port);
        const key = `${want.address.host}:${port}${want.useOriginalDst ? '|original-dst' : ''}`;
        if (existing?.key === key) continue;
        // Rebinding the same port for capture (or leaving it, or moving to or from 0.0.0.0) frees
        // the old socket first; any other move binds the new socket before the old one drains.
        const wildcard = (h: string): boolean => h === '0.0.0.0' || h === '::';
        const samePort =
          existing !== undefined &&
          existing.address.port === port &&
          (existing.address.host === want.address.host || wildcard(existing.address.host) || wildcard(want.address.host));
        if (samePort) {
          listeners.delete(name);
          await stopListener(existing, 1000);
        }
        const started = await startListener(name, want.address.host, port, want.useOriginalDst === true);
        if (!started.ok) {
          errors.push(started.errors);
          continue;
        }
        listeners.set(name, started.value);
        if (existing && !samePort) void stopListener(existing);
      }
      errors.push(...(await tcpListeners.apply(config)));
      return errors.length > 0 ? fail(errors) : ok(undefined);
    };
    const result = chain.then(run);
    chain = result.catch(() => undefined);
    return result;
  };

  let draining = false;
  const readiness = (): Readiness => {
    if (draining) return { ready: false, reason: 'draining' };
    let bundle: CertBundle;
    try {
      bundle = opts.certificates.current();
    } catch (e: unknown) {
      return { ready: false, reason: `no certificate: ${errorMessage(e)}` };
    }
    if (bundle.notAfter.getTime() <= Date.now()) return { ready: false, reason: 'certificate expired' };
    const xds = opts.xdsReady ? opts.xdsReady() : applied && current.listeners.size > 0;
    if (!xds) return { ready: false, reason: 'xDS config not received' };
    for (const name of [LISTENER.virtualOutbound, LISTENER.virtualInbound]) {
      if (current.listeners.get(name)?.address && !listeners.has(name)) return { ready: false, reason: `listener ${name} not bound` };
    }
    for (const l of current.listeners.values()) {
      if (isOutboundTcpListener(l) && l.bindToPort !== false && tcpListeners.address(l.name) === undefined) return { ready: false, reason: `listener ${l.name} not bound` };
    }
    return { ready: true };
  };

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    overload.stop();
    opts.certificates.off('rotated', onRotated);
    opts.certificates.off('error', onRenewalFailed);
    await chain;
    const all = [...listeners.values()];
    listeners.clear();
    h2Pool.close();
    h1.close();
    ctx.clusters.close();
    accessLog?.close();
    await Promise.all([
      tcpListeners.close(),
      ...all.map((l) => stopListener(l, 1000)),
      ...aux.map((a) => closeServer(a.server, 1000, () => a.server.closeAllConnections())),
    ]);
  };
  return {
    applyConfig,
    config: () => current,
    readiness,
    telemetry,
    listenerAddress: (name) => listeners.get(name)?.address ?? tcpListeners.address(name),
    upstreamSessions: () => h2Pool.size,
    clusterStats: () => ctx.clusters.stats(),
    accessLog,
    urls,
    drain: async (graceMs) => {
      if (closed || draining) return;
      draining = true;
      logger.info({ graceMs }, 'draining: not ready; listeners stop accepting; in-flight requests finish');
      await chain;
      const all = [...listeners.values()];
      listeners.clear();
      // Listeners first, upstream pools untouched, so that requests in flight can finish.
      await Promise.all(
        all.map((l) => {
          if ('closeIdleConnections' in l.server) {
            const idle = l.server;
            // Keep-alive connections that finish a response during the drain close then.
            idle.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
              if (!res.headersSent) res.setHeader('connection', 'close');
            });
            idle.closeIdleConnections();
          }
          return stopListener(l, graceMs);
        }),
      );
      await close();
    },
    close,
  };
}

/**
 * While the overload manager's `stop_accepting_connections` is active, a new connection is closed
 * at accept, before any other handler reads it (counted as `downstream_cx_overload_reject`);
 * open connections are untouched.
 */
function refuseWhenOverloaded(server: net.Server, stat: BoundsStat, overload: OverloadState): void {
  server.prependListener('connection', (socket: net.Socket) => {
    if (!overload.refuseConnections()) return;
    stat(OVERLOAD_REJECT_STAT);
    socket.destroy();
  });
}

/**
 * Every `host:port` a config names as an upstream: each endpoint of each cluster (EDS and
 * static), at its sidecar's inbound port too.
 */
function liveUpstreams(config: ProxyConfig): Set<string> {
  const live = new Set<string>();
  const add = (e: { address: SocketAddr; inboundPort?: number }): void => {
    live.add(`${e.address.host}:${e.address.port}`);
    if (e.inboundPort !== undefined) live.add(`${e.address.host}:${e.inboundPort}`);
  };
  for (const c of config.clusters.values()) for (const e of c.staticEndpoints ?? []) add(e);
  for (const a of config.endpoints.values()) for (const e of a.endpoints) add(e);
  return live;
}
