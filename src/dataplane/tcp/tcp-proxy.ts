import type net from 'node:net';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import type { Result } from '../../common/result.ts';
import type { ClusterConfig, EndpointConfig, SocketAddr, TcpClusterWeight } from '../../xds/config-types.ts';
import type { ClusterManager } from '../cluster/index.ts';

/** What a tcp_proxy filter chain asks of one connection (from a validated TcpFilterChain). */
export interface TcpRoute {
  statPrefix: string;
  /** At least one; picked per connection by weight. */
  clusters: readonly TcpClusterWeight[];
  /** Close both sides after this long without a byte either way; 0: never. */
  idleTimeoutMs: number;
}

/** An upstream connection being set up by a TcpConnector. */
export interface UpstreamConnection {
  socket: net.Socket;
  /**
   * Settles once bytes may flow (TCP connected, or TLS handshake done and the peer checked), with
   * the peer's SPIFFE ID when it has one; a failure is a connect failure (UF). Never rejects.
   */
  ready: Promise<Result<{ peer?: string }, string>>;
}

/** Dials the endpoint the cluster layer picked: plaintext, mesh mTLS or originated TLS (the proxy's choice). */
export interface TcpConnector {
  connect(cluster: ClusterConfig, endpoint: EndpointConfig): UpstreamConnection;
}

/** Envoy response flags a TCP proxy sets: NC (no cluster), UH (no healthy host), UO (overflow), UF (connect failure). */
export type TcpResponseFlags = '-' | 'NC' | 'UH' | 'UO' | 'UF';

/** One proxied connection as its observer sees it. */
export interface TcpConnectionInfo {
  statPrefix: string;
  /** The cluster picked (by weight) for this connection. */
  cluster: string;
  endpoint?: EndpointConfig;
  /** The upstream's SPIFFE ID (mesh mTLS), once known. */
  upstreamPeer?: string;
  startTime: Date;
  downstreamRemote?: { host: string; port: number };
  /** The address dialled (an endpoint, or its cluster's gateway). */
  upstreamRemote?: { host: string; port: number };
}

export interface TcpConnectionEnd extends TcpConnectionInfo {
  flags: TcpResponseFlags;
  /** Bytes from the downstream, written upstream (Istio's `received`). */
  receivedBytes: number;
  /** Bytes from the upstream, written downstream (Istio's `sent`). */
  sentBytes: number;
  durationMs: number;
  /** True when the idle timeout closed the connection. */
  idleTimedOut: boolean;
}

/**
 * Told about each connection: `opened` once the upstream is ready (or just before `closed` when
 * it never was), `closed` once both sockets closed. Exactly one of each per connection.
 */
export interface TcpConnectionObserver {
  opened(info: TcpConnectionInfo): void;
  closed(end: TcpConnectionEnd): void;
}

export interface TcpProxyDeps {
  clusters: ClusterManager;
  random: () => number;
  connector: TcpConnector;
  observer: TcpConnectionObserver;
  logger: Logger;
  /** Called with every upstream socket, so that the owner can destroy it on shutdown. */
  track?: (upstream: net.Socket) => void;
  /**
   * The connection's original destination (capture, SO_ORIGINAL_DST): the one host of an
   * ORIGINAL_DST cluster. Without it such a cluster has no host (UH).
   */
  originalDst?: SocketAddr;
}

type Lease =
  | { ok: true; endpoint: EndpointConfig; release(): void; report(outcome: typeof CONNECT_FAILURE | typeof CONNECT_SUCCESS): void }
  | { ok: false; flag: 'NC' | 'UH' | 'UO'; message: string };

/**
 * The host for one connection: an ORIGINAL_DST cluster's is the connection's original destination
 * (plaintext, no load balancing, circuit breaking or outlier detection: the validator refuses
 * those settings on it); any other cluster's comes from the cluster layer.
 */
function leaseHost(cluster: string, deps: TcpProxyDeps): Lease {
  const config = deps.clusters.get(cluster)?.config;
  if (config?.type !== 'ORIGINAL_DST') return deps.clusters.pick(cluster, { connection: true });
  const dst = deps.originalDst;
  if (dst === undefined) return { ok: false, flag: 'UH', message: `cluster "${cluster}" is ORIGINAL_DST but the connection has no original destination` };
  const endpoint: EndpointConfig = { address: { host: dst.host, port: dst.port }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0 };
  return { ok: true, endpoint, release: () => undefined, report: () => undefined };
}

const CONNECT_FAILURE = Object.freeze({ kind: 'connect-failure' as const });
const CONNECT_SUCCESS = Object.freeze({ kind: 'connect-success' as const });

/** Picks a cluster by weight (weights are positive integers). */
export function pickWeighted(clusters: readonly TcpClusterWeight[], random: () => number): string {
  const total = clusters.reduce((sum, c) => sum + c.weight, 0);
  let point = random() * total;
  for (const c of clusters) {
    point -= c.weight;
    if (point < 0) return c.name;
  }
  return clusters[clusters.length - 1]?.name ?? '';
}

/**
 * Envoy's tcp_proxy for one accepted downstream connection: pick a cluster by weight, an endpoint
 * through the shared cluster layer (load balancer, outlier detection, `max_connections` → UO), dial
 * it with `connector`, replay `head` (bytes already read from the downstream), then pipe both ways
 * with half-close until both sides closed or `idleTimeoutMs` passes without a byte. Connect
 * failures and successes go back to the cluster (outlier detection). Never throws.
 */
export function proxyTcp(downstream: net.Socket, route: TcpRoute, deps: TcpProxyDeps, head?: Buffer): void {
  const startTime = new Date();
  const started = performance.now();
  const cluster = pickWeighted(route.clusters, deps.random);
  const info: TcpConnectionInfo = { statPrefix: route.statPrefix, cluster, startTime };
  if (downstream.remoteAddress !== undefined && downstream.remotePort !== undefined) {
    info.downstreamRemote = { host: downstream.remoteAddress, port: downstream.remotePort };
  }
  let opened = false;
  const open = (): void => {
    if (opened) return;
    opened = true;
    deps.observer.opened(info);
  };
  const finish = (flags: TcpResponseFlags, receivedBytes: number, sentBytes: number, idleTimedOut: boolean): void => {
    open();
    deps.observer.closed({ ...info, flags, receivedBytes, sentBytes, durationMs: performance.now() - started, idleTimedOut });
  };

  downstream.on('error', () => downstream.destroy());
  const picked = leaseHost(cluster, deps);
  if (!picked.ok) {
    deps.logger.debug({ cluster, flag: picked.flag }, picked.message);
    downstream.destroy();
    finish(picked.flag === 'NC' ? 'NC' : picked.flag, 0, 0, false);
    return;
  }
  const config = deps.clusters.get(cluster)?.config;
  if (!config) {
    picked.release();
    downstream.destroy();
    finish('NC', 0, 0, false);
    return;
  }
  info.endpoint = picked.endpoint;
  info.upstreamRemote = { host: picked.endpoint.address.host, port: picked.endpoint.inboundPort ?? picked.endpoint.address.port };
  downstream.pause();
  const up = deps.connector.connect(config, picked.endpoint);
  const upstream = up.socket;
  deps.track?.(upstream);
  let flags: TcpResponseFlags = '-';
  let received = head?.length ?? 0;
  let sent = 0;
  let idle = false;
  let openSockets = 2;
  let timer: NodeJS.Timeout | undefined;
  const onClosed = (): void => {
    openSockets -= 1;
    if (openSockets > 0) return;
    if (timer) clearTimeout(timer);
    picked.release();
    finish(flags, received, sent, idle);
  };
  downstream.once('close', () => {
    upstream.destroy();
    onClosed();
  });
  upstream.once('close', () => {
    downstream.destroy();
    onClosed();
  });
  upstream.on('error', (e: unknown) => {
    deps.logger.debug({ cluster, err: errorMessage(e) }, 'tcp upstream error');
    downstream.destroy();
  });

  void up.ready.then((r) => {
    if (!r.ok) {
      flags = 'UF';
      picked.report(CONNECT_FAILURE);
      deps.logger.debug({ cluster, err: r.errors }, 'tcp upstream connect failed');
      upstream.destroy();
      downstream.destroy();
      return;
    }
    if (downstream.destroyed) {
      upstream.destroy();
      return;
    }
    picked.report(CONNECT_SUCCESS);
    if (r.value.peer !== undefined) info.upstreamPeer = r.value.peer;
    open();
    if (route.idleTimeoutMs > 0) {
      timer = setTimeout(() => {
        idle = true;
        downstream.destroy();
        upstream.destroy();
      }, route.idleTimeoutMs);
      timer.unref();
    }
    const touch = (): void => {
      timer?.refresh();
    };
    if (head && head.length > 0) upstream.write(head);
    downstream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      touch();
    });
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      touch();
    });
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.resume();
  });
}
