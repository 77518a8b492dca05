import http from 'node:http';
import type { Readable } from 'node:stream';
import type { PickedHost } from '../dataplane/cluster/index.ts';
import type { RouteTable } from '../xds/config-types.ts';
import { LISTENER, parseOutboundClusterName } from '../xds/naming.ts';
import { h1ToH1RequestHeaders, h1ToH2RequestHeaders, responseHeadersForH1 } from './headers.ts';
import {
  blankLabels,
  DEFAULT_ROUTE_TIMEOUT_MS,
  type ListenerContext,
  reportRequest,
  UNKNOWN,
  writeLocalReply,
} from './listener-context.ts';
import { PEER_METADATA_HEADER, takePeerMetadata } from './peer-metadata.ts';
import { routeHash } from './route-hash.ts';
import { routeRequest, stripPort } from './router.ts';
import { serviceNameOf } from './telemetry.ts';
import type { Http1Upstream } from './upstream-http1.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import type { UpstreamCall } from './upstream-interface.ts';

/**
 * The outbound listener (`virtualOutbound`, :15001): plain HTTP/1.1 from the local app, routed by
 * Host through the listener's route table, sent to the picked endpoint over mesh mTLS (HTTP/2) or
 * plaintext HTTP/1.1. Local replies carry `x-meshfed-response-flags`:
 * NR 404 (no route), NC 503 (unknown cluster), UH 503 (no healthy endpoint), UF 503 (connect or
 * TLS failure), UR 503 (reset), UT 504 (route timeout), UO 503 (circuit breaker overflow).
 * Requests that Node's parser rejects get its 400 and never reach routing. Every upstream result
 * (status, connect failure, reset, timeout) is reported to the cluster for outlier detection, and
 * the picked host is released when the response closes.
 */

/** Pick context of requests whose route has no hash policy (shared, never mutated). */
const NO_HASH = Object.freeze({});

/** The route table the outbound listener uses in the current config, if any. */
export function outboundRouteTable(ctx: ListenerContext): RouteTable | undefined {
  const cfg = ctx.config();
  const listener = cfg.listeners.get(LISTENER.virtualOutbound);
  const chain = listener?.filterChains.find((c) => c.kind === 'http');
  if (!chain || chain.kind !== 'http') return undefined;
  return chain.routes ?? (chain.routeConfigName !== undefined ? cfg.routes.get(chain.routeConfigName) : undefined);
}

export function createOutboundServer(ctx: ListenerContext, h2: H2SessionPool, h1: Http1Upstream): http.Server {
  const server = http.createServer({ keepAlive: true, requestTimeout: 0 }, (req, res) => {
    handleOutbound(ctx, h2, h1, req, res);
  });
  return server;
}

/** `outbound|<port>|<subset>|<host>` → its destination_service labels, remembered per cluster name. */
const destinationByCluster = new Map<string, { service: string; serviceName: string } | undefined>();
const DESTINATIONS_MAX = 4096;

function destinationOfCluster(clusterName: string): { service: string; serviceName: string } | undefined {
  if (destinationByCluster.has(clusterName)) return destinationByCluster.get(clusterName);
  const parsed = parseOutboundClusterName(clusterName);
  const d = parsed ? { service: parsed.hostname, serviceName: serviceNameOf(parsed.hostname) } : undefined;
  if (destinationByCluster.size >= DESTINATIONS_MAX) destinationByCluster.clear();
  destinationByCluster.set(clusterName, d);
  return d;
}

const TIMEOUT = Object.freeze({ kind: 'timeout' as const });
const CONNECT_FAILURE = Object.freeze({ kind: 'connect-failure' as const });
const RESET = Object.freeze({ kind: 'reset' as const });
const NO_CONNECTION_OPTIONS = Object.freeze({});

/** The cluster's upstream connection limits, passed to the transports only when set. */
function connectionOptions(c: { maxRequestsPerConnection?: number; idleTimeoutMs?: number }): {
  maxRequestsPerConnection?: number;
  idleTimeoutMs?: number;
} {
  if (c.maxRequestsPerConnection === undefined && c.idleTimeoutMs === undefined) return NO_CONNECTION_OPTIONS;
  return {
    ...(c.maxRequestsPerConnection !== undefined ? { maxRequestsPerConnection: c.maxRequestsPerConnection } : {}),
    ...(c.idleTimeoutMs !== undefined ? { idleTimeoutMs: c.idleTimeoutMs } : {}),
  };
}

/** True when an HTTP/1.1 request carries a body (RFC 9112 §6.3: only these headers announce one). */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function handleOutbound(
  ctx: ListenerContext,
  h2: H2SessionPool,
  h1: Http1Upstream,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): void {
  const startTime = new Date();
  const started = performance.now();
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  const host = (req.headers.host ?? '').toLowerCase();
  const own = ctx.workload;
  const labels = blankLabels('source');
  labels.source_workload = own.name;
  labels.source_workload_namespace = own.namespace;
  labels.source_principal = ctx.certificate().spiffeId;
  labels.source_cluster = own.cluster;
  let requestBytes = 0;
  let responseBytes = 0;
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;
  let call: UpstreamCall | undefined;
  let lease: PickedHost | undefined;
  let timer: NodeJS.Timeout | undefined;
  const body = hasBody(req) ? req : undefined;
  body?.on('data', (chunk: Buffer) => {
    requestBytes += chunk.length;
  });

  // 'close' fires once, after the response finished or the connection went away.
  res.once('close', () => {
    clearTimeout(timer);
    if (call && !res.writableFinished) call.abort();
    lease?.release();
    reportRequest(ctx, labels, {
      reporter: 'source',
      startTime,
      durationMs: performance.now() - started,
      requestBytes,
      responseBytes,
      downstreamRemote: req.socket.remoteAddress ? { host: req.socket.remoteAddress, port: req.socket.remotePort ?? 0 } : undefined,
      upstreamRemote,
      upstreamCluster,
      method,
      path,
      authority: host,
      responseCode: res.statusCode,
      protocol: 'HTTP11',
    });
  });

  const localReply = (status: number, flag: string, message: string): void => {
    labels.response_flags = flag;
    req.resume();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    responseBytes = writeLocalReply(res, status, flag, message);
  };

  const decision = routeRequest(outboundRouteTable(ctx), host, path, req.headers, ctx.random);
  const destination = decision.ok ? destinationOfCluster(decision.cluster) : undefined;
  if (destination) {
    labels.destination_service = destination.service;
    labels.destination_service_name = destination.serviceName;
  } else {
    labels.destination_service = stripPort(host) || UNKNOWN;
    labels.destination_service_name = serviceNameOf(labels.destination_service);
  }
  if (!decision.ok) {
    localReply(404, 'NR', `no route for host "${host}"`);
    return;
  }
  upstreamCluster = decision.cluster;
  const hash = decision.route.hashPolicy ? routeHash(decision.route.hashPolicy, req) : undefined;
  const picked = ctx.clusters.pick(decision.cluster, hash ?? NO_HASH);
  if (!picked.ok) {
    localReply(picked.status, picked.flag, picked.message);
    return;
  }
  lease = picked;
  if (hash?.setCookie !== undefined) res.setHeader('set-cookie', hash.setCookie);
  const cluster = ctx.clusters.get(decision.cluster)?.config;
  const endpoint = picked.endpoint;
  if (!cluster) {
    localReply(503, 'NC', `cluster "${decision.cluster}" not found`);
    return;
  }
  if (endpoint.workload) labels.destination_workload = endpoint.workload;
  if (endpoint.namespace) labels.destination_workload_namespace = endpoint.namespace;
  if (endpoint.cluster) labels.destination_cluster = endpoint.cluster;

  const head = { method, path, headers: req.headers };
  if (cluster.tls !== undefined && endpoint.tlsMode === 'istio') {
    labels.connection_security_policy = 'mutual_tls';
    const port = endpoint.inboundPort ?? endpoint.address.port;
    upstreamRemote = { host: endpoint.address.host, port };
    const headers = h1ToH2RequestHeaders(head);
    headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
    call = h2.request(
      { host: endpoint.address.host, port, sni: cluster.tls.sni, alpn: cluster.tls.alpn },
      { method, path, headers, body, connectTimeoutMs: cluster.connectTimeoutMs, ...connectionOptions(cluster) },
    );
  } else {
    upstreamRemote = { host: endpoint.address.host, port: endpoint.address.port };
    call = h1.request(endpoint.address, {
      method,
      path,
      headers: h1ToH1RequestHeaders(head),
      body,
      connectTimeoutMs: cluster.connectTimeoutMs,
      ...connectionOptions(cluster),
    });
  }
  const upstreamCall = call;

  const timeoutMs = decision.route.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
  let timedOut = false;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      picked.report(TIMEOUT);
      upstreamCall.abort();
      localReply(504, 'UT', `upstream timeout after ${timeoutMs} ms`);
    }, timeoutMs);
  }

  void upstreamCall.response.then((result) => {
    if (timedOut || res.destroyed) {
      if (result.ok) result.value.body.destroy();
      return;
    }
    if (!result.ok) {
      clearTimeout(timer);
      picked.report(result.errors.flag === 'UF' ? CONNECT_FAILURE : RESET);
      localReply(503, result.errors.flag, result.errors.message);
      return;
    }
    const upstream = result.value;
    picked.report({ kind: 'response', status: upstream.status });
    const peerMeta = takePeerMetadata(upstream.headers);
    if (peerMeta) {
      labels.destination_workload = peerMeta.workload || labels.destination_workload;
      labels.destination_workload_namespace = peerMeta.namespace || labels.destination_workload_namespace;
      labels.destination_cluster = peerMeta.cluster || labels.destination_cluster;
    }
    if (upstream.peer) labels.destination_principal = upstream.peer.spiffeId;
    res.writeHead(upstream.status, responseHeadersForH1(upstream.headers));
    relayBody(upstream.body, res, {
      data: (n) => {
        responseBytes += n;
      },
      done: (ok) => {
        clearTimeout(timer);
        if (!ok && !timedOut) labels.response_flags = 'UR';
      },
    });
  });
}

/**
 * Pipes an upstream body to the app. `done(true)` runs once the body ended; `done(false)` once it
 * failed or closed before its end, and the response is then destroyed (the app sees the reset).
 * When the app goes away first, the caller's abort closes the body and `done(false)` follows.
 */
function relayBody(
  body: Readable,
  res: http.ServerResponse,
  on: { data: (bytes: number) => void; done: (ok: boolean) => void },
): void {
  body.on('data', (chunk: Buffer) => on.data(chunk.length));
  body.once('end', () => on.done(true));
  body.once('close', () => {
    if (body.readableEnded) return;
    on.done(false);
    res.destroy();
  });
  // 'close' follows every 'error' (autoDestroy); this listener only keeps the error handled.
  body.on('error', () => {});
  body.pipe(res);
}
