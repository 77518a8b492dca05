import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import { type ClusterStats, createClusterManager } from '../dataplane/cluster/index.ts';
import type { ProxyConfig } from '../xds/config-types.ts';
import { GatewayListenError, GatewayOptionsError } from './errors.ts';
import { GatewayMetrics } from './gateway-metrics.ts';
import { passthroughListener } from './passthrough.ts';
import { buildSniRouteTable, EMPTY_ROUTE_TABLE, type SniRouteTable } from './sni-routes.ts';

/** Options of createGatewayDataPlane. */
export interface GatewayDataPlaneOptions {
  /** Address to bind (a loopback 127.x.y.z locally). */
  address: string;
  /** Default PORTS.eastWestGateway (15443); 0 picks a free port. */
  port?: number;
  /** The gateway's cluster: `source_cluster` of its metrics. Default `unknown`. */
  cluster?: string;
  /** Close a client that sends no complete ClientHello in this time. Default 5000. */
  helloTimeoutMs?: number;
  /** Refuse a client whose ClientHello is not complete after this many bytes. Default 16384. */
  maxHelloBytes?: number;
  /** Close a routed connection idle this long either way. Default 3,600,000 (Envoy tcp_proxy `idle_timeout`, 1 h). */
  idleTimeoutMs?: number;
  /** Open downstream connections; the next is refused at accept. Default 1,048,576 (Envoy sets no per-listener limit). */
  maxConnections?: number;
  logger?: Logger;
}

/**
 * The gateway's SNI passthrough listener without any xDS client, driven by applyConfig. Call order:
 * applyConfig (any time, any number of times) / listen (once) / close (once). Until a config with
 * the `eastwestgateway_15443` listener arrives, every SNI is refused as unknown.
 */
export interface GatewayDataPlane {
  /** Swaps the route table; connections already routed keep their upstream. */
  applyConfig(cfg: ProxyConfig): void;
  /** Binds the listener; resolves with the bound port. Rejects with GatewayListenError. */
  listen(): Promise<number>;
  /** Stops accepting, destroys every open connection, resolves when the server is closed. */
  close(): Promise<void>;
  /**
   * SIGTERM drain: stops accepting at once (new connections are refused), lets the open
   * passthrough connections run for up to `graceMs`, then closes whatever is left. Resolves once
   * every connection is gone. Idempotent with close.
   */
  drain(graceMs: number): Promise<void>;
  /** Open downstream connections. */
  connections(): number;
  /** The last config applied, if any. */
  config(): ProxyConfig | undefined;
  routes(): SniRouteTable;
  /** Per-cluster counters of the cluster layer (active connections, ejections, overflows). */
  clusterStats(): ClusterStats[];
  metrics: GatewayMetrics;
}

const GATEWAY_WORKLOAD = { workload: 'istio-eastwestgateway', namespace: 'istio-system' } as const;

function positiveInt(value: number | undefined, fallback: number, field: string, allowZero = false): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) throw new GatewayOptionsError(`invalid ${field}: ${value}`);
  return value;
}

/** Validates options (throws GatewayOptionsError naming the field) and builds the data plane. */
export function createGatewayDataPlane(opts: GatewayDataPlaneOptions): GatewayDataPlane {
  if (net.isIP(opts.address) === 0) throw new GatewayOptionsError(`invalid address: ${opts.address}`);
  const port = positiveInt(opts.port, PORTS.eastWestGateway, 'port', true);
  if (port > 65535) throw new GatewayOptionsError(`invalid port: ${port}`);
  const cluster = opts.cluster ?? 'unknown';
  const logger = opts.logger ?? createLogger('gateway', { cluster });
  const metrics = new GatewayMetrics({ cluster, ...GATEWAY_WORKLOAD });
  let table: SniRouteTable = EMPTY_ROUTE_TABLE;
  let current: ProxyConfig | undefined;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const clusters = createClusterManager();
  const onConnection = passthroughListener(
    Object.freeze({
      helloTimeoutMs: positiveInt(opts.helloTimeoutMs, 5000, 'helloTimeoutMs'),
      maxHelloBytes: positiveInt(opts.maxHelloBytes, 16 * 1024, 'maxHelloBytes'),
      idleTimeoutMs: positiveInt(opts.idleTimeoutMs, 3_600_000, 'idleTimeoutMs'),
      cluster,
      routes: () => table,
      clusters,
      metrics,
      logger,
      track,
    }),
  );
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
    track(socket);
    onConnection(socket);
  });
  server.maxConnections = positiveInt(opts.maxConnections, 1_048_576, 'maxConnections');
  server.on('drop', () => metrics.bound('downstream_cx_overflow'));
  server.on('error', (e: unknown) => logger.error({ err: e }, 'gateway listener error'));

  return {
    applyConfig(cfg) {
      current = cfg;
      clusters.update(cfg);
      table = buildSniRouteTable(cfg);
      logger.info({ snis: table.routes.size, listener: table.hasListener }, 'gateway config applied');
    },
    listen: () =>
      new Promise<number>((resolve, reject) => {
        const onError = (e: unknown): void => reject(new GatewayListenError(`passthrough on ${opts.address}:${port}`, e));
        server.once('error', onError);
        server.listen(port, opts.address, () => {
          server.off('error', onError);
          const bound = (server.address() as AddressInfo).port;
          logger.info({ address: opts.address, port: bound }, 'east-west gateway listening');
          resolve(bound);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) {
          for (const s of sockets) s.destroy();
          resolve();
          return;
        }
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
    drain: async (graceMs) => {
      const closed = server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
      if (sockets.size > 0) logger.info({ open: sockets.size }, 'drain duration over: closing the connections left');
      const gone = [...sockets].map((s) => new Promise<void>((r) => (s.destroyed && s.closed ? r() : s.once('close', () => r()))));
      for (const s of sockets) s.destroy();
      await Promise.all([closed, ...gone]);
    },
    connections: () => sockets.size,
    config: () => current,
    routes: () => table,
    clusterStats: () => clusters.stats(),
    metrics,
  };
}
