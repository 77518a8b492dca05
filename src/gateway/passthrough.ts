import net from 'node:net';
import { errorCode, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { parseClientHello } from '../dataplane/tcp/client-hello.ts';
import type { GatewayMetrics, RefusalReason, ResponseFlags } from './gateway-metrics.ts';
import type { ClusterManager } from '../dataplane/cluster/index.ts';
import { type SniRoute, type SniRouteTable, serviceSniOf } from './sni-routes.ts';
import { ALERT, type AlertDescription, fatalAlertRecord } from './tls-alert.ts';

/** What one accepted connection needs from its gateway. Frozen by the data plane. */
export interface PassthroughContext {
  /** Close the client when no complete ClientHello arrived within this time. */
  helloTimeoutMs: number;
  /** Refuse a client whose ClientHello is still incomplete after this many bytes. */
  maxHelloBytes: number;
  /** Close both sides of a routed connection after this long without a byte either way (Envoy tcp_proxy `idle_timeout`). */
  idleTimeoutMs: number;
  /** The gateway's own cluster: `destination_cluster` of endpoints without `istio.cluster_id`. */
  cluster: string;
  /** The route table current when the ClientHello completes; later swaps do not affect the connection. */
  routes(): SniRouteTable;
  /** The gateway's clusters: picks an endpoint per connection, outlier detection on connect failures. */
  clusters: ClusterManager;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Called with every upstream socket, so that the owner can destroy it on shutdown. */
  track(upstream: net.Socket): void;
}

const CONNECT_FAILURE = Object.freeze({ kind: 'connect-failure' as const });
const CONNECT_SUCCESS = Object.freeze({ kind: 'connect-success' as const });

/** After a refusal alert, how long the client may take to close before the socket is destroyed. */
const REFUSAL_GRACE_MS = 2000;

/**
 * Serves one downstream connection: buffer bytes until the ClientHello parses, pick the route by
 * SNI (exact match: a service SNI leads to the service's cluster, whose endpoint the cluster layer
 * picks; an endpoint-qualified SNI to a cluster of that one endpoint; anything else is refused with
 * `unrecognized_name`), dial an endpoint, replay the buffered bytes unchanged, then pipe both ways with half-close.
 * TLS is never terminated. Never throws; every socket error ends in destroying both sockets.
 */
export function handleConnection(client: net.Socket, ctx: PassthroughContext): void {
  const log = ctx.logger.child({ peer: `${client.remoteAddress}:${client.remotePort}` });
  const chunks: Buffer[] = [];
  let buffered = 0;
  let settled = false;

  const stopReading = (): void => {
    settled = true;
    clearTimeout(timer);
    client.off('data', onData);
    client.off('end', onEarlyEnd);
    client.off('error', onEarlyError);
  };

  const refuse = (reason: RefusalReason, alert: AlertDescription | undefined, detail?: string): void => {
    if (settled) return;
    stopReading();
    ctx.metrics.refusal(reason);
    log.debug({ reason, detail }, 'connection refused');
    client.on('error', () => client.destroy());
    if (alert === undefined || client.destroyed) {
      client.destroy();
      return;
    }
    const grace = setTimeout(() => client.destroy(), REFUSAL_GRACE_MS);
    grace.unref();
    client.once('close', () => clearTimeout(grace));
    // Discard whatever else the client sends; it closes once it reads the alert.
    client.on('end', () => client.destroy());
    client.resume();
    client.end(fatalAlertRecord(alert));
  };

  const onData = (chunk: Buffer): void => {
    chunks.push(chunk);
    buffered += chunk.length;
    const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, buffered);
    chunks.length = 0;
    chunks.push(all);
    const hello = parseClientHello(all);
    if (hello.status === 'invalid') {
      refuse('invalid_hello', ALERT.handshakeFailure, hello.reason);
      return;
    }
    if (hello.status === 'incomplete') {
      if (buffered > ctx.maxHelloBytes) refuse('hello_too_large', ALERT.handshakeFailure);
      return;
    }
    if (hello.sni === undefined) {
      refuse('no_sni', ALERT.handshakeFailure);
      return;
    }
    const table = ctx.routes();
    const route = table.routes.get(hello.sni);
    if (!route) {
      const service = serviceSniOf(hello.sni);
      refuse(service !== undefined && table.routes.has(service) ? 'unknown_endpoint' : 'unknown_sni', ALERT.unrecognizedName, hello.sni);
      return;
    }
    stopReading();
    client.pause();
    forward(client, all, route, ctx, log);
  };
  const onEarlyEnd = (): void => refuse('client_closed', undefined);
  const onEarlyError = (e: unknown): void => refuse('client_closed', undefined, errorMessage(e));

  const timer = setTimeout(() => refuse('hello_timeout', undefined), ctx.helloTimeoutMs);
  timer.unref();
  client.setNoDelay(true);
  client.on('data', onData);
  client.on('end', onEarlyEnd);
  client.on('error', onEarlyError);
}

const NO_HASH = Object.freeze({});

/**
 * Dials an endpoint of `route` (picked by the cluster layer; the pick is released when both
 * sockets closed), replays `head`, and splices the two sockets. Connect failures and successes
 * are reported to the cluster for outlier detection.
 */
function forward(client: net.Socket, head: Buffer, route: SniRoute, ctx: PassthroughContext, parentLog: Logger): void {
  const picked = ctx.clusters.pick(route.cluster, NO_HASH);
  const endpoint = picked.ok ? picked.endpoint : undefined;
  const conn = ctx.metrics.connection({
    destination_service: route.destinationService,
    destination_cluster: endpoint?.cluster ?? ctx.cluster,
  });
  if (!picked.ok || !endpoint) {
    const flag = !picked.ok && picked.flag === 'UO' ? 'UO' : 'UH';
    parentLog.warn({ sni: route.sni, cluster: route.cluster, flag }, 'no upstream endpoint');
    conn.closed(flag);
    client.destroy();
    return;
  }
  const host = endpoint.address.host;
  const port = endpoint.inboundPort ?? endpoint.address.port;
  const log = parentLog.child({ sni: route.sni, upstream: `${host}:${port}` });
  let flags: ResponseFlags = '-';
  let open = 2;
  const onClosed = (): void => {
    open -= 1;
    if (open === 0) {
      picked.release();
      conn.closed(flags);
    }
  };

  const upstream = net.connect({ host, port, allowHalfOpen: true });
  ctx.track(upstream);
  upstream.setNoDelay(true);
  upstream.setTimeout(route.connectTimeoutMs, () => upstream.destroy(new Error('upstream connect timeout')));
  let connected = false;

  client.on('error', (e: unknown) => {
    log.debug({ err: errorMessage(e), code: errorCode(e) }, 'downstream error');
    upstream.destroy();
  });
  upstream.on('error', (e: unknown) => {
    if (!connected) {
      flags = 'UF';
      picked.report(CONNECT_FAILURE);
    }
    log.debug({ err: errorMessage(e), code: errorCode(e), connected }, 'upstream error');
    client.destroy();
  });
  client.on('close', (hadError) => {
    if (hadError || !connected) upstream.destroy();
    onClosed();
  });
  upstream.on('close', (hadError) => {
    if (hadError || !connected) client.destroy();
    onClosed();
  });

  upstream.once('connect', () => {
    connected = true;
    picked.report(CONNECT_SUCCESS);
    upstream.setTimeout(0);
    conn.received(head.length);
    upstream.write(head);
    client.on('data', (chunk: Buffer) => conn.received(chunk.length));
    upstream.on('data', (chunk: Buffer) => conn.sent(chunk.length));
    client.pipe(upstream);
    upstream.pipe(client);
    armIdleTimeout(client, upstream, ctx, log);
  });
}

/** Destroys both sockets once neither has carried a byte for `ctx.idleTimeoutMs`; counted as `tcp.*.idle_timeout`. */
function armIdleTimeout(client: net.Socket, upstream: net.Socket, ctx: PassthroughContext, log: Logger): void {
  const timer = setTimeout(expire, ctx.idleTimeoutMs);
  timer.unref();
  function expire(): void {
    ctx.metrics.bound('idle_timeout');
    log.debug({ idleTimeoutMs: ctx.idleTimeoutMs }, 'passthrough idle timeout');
    client.destroy();
    upstream.destroy();
  }
  const touch = (): void => {
    timer.refresh();
  };
  client.on('data', touch);
  upstream.on('data', touch);
  const stop = (): void => clearTimeout(timer);
  client.once('close', stop);
  upstream.once('close', stop);
}

/** Builds a connection listener for a `net.Server` created with `allowHalfOpen: true`. */
export function passthroughListener(ctx: PassthroughContext): (socket: net.Socket) => void {
  return (socket) => handleConnection(socket, ctx);
}
