import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex, Readable } from 'node:stream';
import type { FilterRequest, HttpFilter, LocalReply } from '../dataplane/http/http-filter-interface.ts';
import { type RequestView, routeRequest, stripPort } from '../dataplane/http/route-table.ts';
import { editResponseHeaders, forward } from '../dataplane/http/router.ts';
import type { RedirectConfig, RouteConfig } from '../xds/config-types.ts';
import { BLACKHOLE_CLUSTER, BLOCK_ALL_VIRTUAL_HOST, parseOutboundClusterName, PASSTHROUGH_CLUSTER } from '../xds/naming.ts';
import { h2DownstreamHeaders, responseHeadersForH1 } from './headers.ts';
import {
  blankLabels,
  DEFAULT_ROUTE_TIMEOUT_MS,
  type ListenerContext,
  reportRequest,
  UNKNOWN,
  RESPONSE_FLAGS_HEADER,
  shedIfOverloaded,
  writeLocalReply,
} from './listener-context.ts';
import { grpcLocalReplyHeaders, grpcStatusOf, isGrpcRequest, respondHeadersOnly, writeGrpcLocalReply } from './grpc-status.ts';
import { acceptH2c } from './outbound-h2c.ts';
import { framingError, refuseFraming } from './http1-framing.ts';
import { applyConnectionLimit, applyH2Bounds, applyHttp1Bounds, BOUNDS_STATS, type BoundsStat, DEFAULT_LISTENER_BOUNDS, h2ServerBoundsOptions, type ListenerBounds } from './listener-bounds.ts';
import { normalizePath } from '../dataplane/http/path-normalize.ts';
import { chainFilters, outboundChain, outboundRouteTable, runFilters } from './outbound-chain.ts';

import { outboundUpstream } from './outbound-upstream.ts';
import { routeHash } from './route-hash.ts';
import { handleOutboundExtendedConnect, handleOutboundUpgrade } from './websocket-outbound.ts';
import { takePeerMetadata } from './peer-metadata.ts';
import { serviceNameOf } from './telemetry.ts';
import type { Http1Upstream } from './upstream-http1.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';

/**
 * The outbound listener (`virtualOutbound`, :15001): plain HTTP/1.1 or prior-knowledge h2c from the
 * local app on the same port (told apart by the connection preface, outbound-h2c.ts), routed by
 * Host through the listener's route table, then through the chain's HTTP filters (fault, CORS) and
 * the router (redirects, direct responses, rewrites, header edits, retries, mirrors), to the
 * picked endpoint over mesh mTLS (HTTP/2) or plaintext HTTP/1.1. Local replies carry
 * `x-meshfed-response-flags`: NR 404 (no route), NC 503 (unknown cluster), UH 503 (no healthy
 * endpoint), UO 503 (circuit breaker overflow), UF 503 (connect or TLS failure), UR 503 (reset),
 * UT 504 (route timeout), FI (fault abort), DI (fault delay), URX (retries exhausted), RL 429
 * (local rate limit; the reply also carries `x-envoy-ratelimited: true`). Requests
 * that Node's parser rejects get its 400 and never reach routing. Every attempt's result is
 * reported to its cluster for outlier detection, and each picked host is released when its
 * attempt ends.
 */


/**
 * The outbound server: HTTP/1.1 and h2c from the app. `sessions` receives the live h2c sessions,
 * so that the caller can close them with the listener.
 */
export function createOutboundServer(
  ctx: ListenerContext,
  h2: H2SessionPool,
  h1: Http1Upstream,
  sessions: Set<http2.ServerHttp2Session>,
  bounds: Readonly<ListenerBounds> = DEFAULT_LISTENER_BOUNDS,
  stat: BoundsStat = () => {},
): http.Server {
  // Strict parsing whatever the process flags (`--insecure-http-parser` flips Node's default).
  const server = http.createServer({ keepAlive: true, requestTimeout: bounds.requestTimeoutMs, headersTimeout: bounds.headersTimeoutMs, insecureHTTPParser: false }, (req, res) => {
    if (framingError(req.headers) !== undefined) {
      stat(BOUNDS_STATS.protocolError);
      refuseFraming(res);
      return;
    }
    if (!shedIfOverloaded(ctx, res, stat)) handleOutbound(ctx, h2, h1, req, res);
  });
  applyHttp1Bounds(server, bounds, stat);
  applyConnectionLimit(server, bounds, stat);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (framingError(req.headers) !== undefined) {
      stat(BOUNDS_STATS.protocolError);
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    handleOutboundUpgrade(ctx, h2, req, socket, head);
  });
  const h2c = acceptH2c(
    server,
    (req, res) => {
      if (!shedIfOverloaded(ctx, res, stat)) handleOutbound(ctx, h2, h1, req, res);
    },
    (req, res) => handleOutboundExtendedConnect(ctx, h2, req, res),
    h2ServerBoundsOptions(bounds),
  );
  applyH2Bounds(h2c.server, bounds, stat);
  h2c.onSession((s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  return server;
}

/** A request from the app, over HTTP/1.1 or h2c (Node's compatibility API for the latter). */
type AppRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AppResponse = http.ServerResponse | http2.Http2ServerResponse;

/** True once the app's connection (h1) or stream (h2) is gone. */
function appGone(res: AppResponse): boolean {
  return res instanceof http.ServerResponse ? res.destroyed : res.stream.destroyed;
}

/** Resets the app's response: closes the HTTP/1.1 connection, or resets the h2 stream. */
function resetApp(res: AppResponse): void {
  if (res instanceof http.ServerResponse) res.destroy();
  else if (!res.stream.destroyed) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
}

/** `outbound|<port>|<subset>|<host>` → its destination_service labels, remembered per cluster name. */
const destinationByCluster = new Map<string, { service: string; serviceName: string } | undefined>();
const DESTINATIONS_MAX = 4096;

function destinationOfCluster(clusterName: string): { service: string; serviceName: string } | undefined {
  if (destinationByCluster.has(clusterName)) return destinationByCluster.get(clusterName);
  const parsed = parseOutboundClusterName(clusterName);
  // As Istio: a destination the mesh does not know is named by PassthroughCluster.
  const d = parsed ? { service: parsed.hostname, serviceName: serviceNameOf(parsed.hostname) } : clusterName === PASSTHROUGH_CLUSTER ? { service: clusterName, serviceName: clusterName } : undefined;
  if (destinationByCluster.size >= DESTINATIONS_MAX) destinationByCluster.clear();
  destinationByCluster.set(clusterName, d);
  return d;
}

/**
 * True when a request carries a body: on h2c when its HEADERS frame did not end the stream; on
 * HTTP/1.1 when it says so (RFC 9112 §6.3: only these headers announce one).
 */
function hasBody(req: AppRequest): boolean {
  if (!(req instanceof http.IncomingMessage)) return !req.stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}


function redirectLocation(r: RedirectConfig, route: RouteConfig, view: RequestView): string {
  const q = view.path.indexOf('?');
  const bare = q === -1 ? view.path : view.path.slice(0, q);
  const query = r.stripQuery || q === -1 ? '' : view.path.slice(q);
  let path = bare + query;
  if (r.path !== undefined) path = r.path.includes('?') || r.stripQuery ? r.path : r.path + query;
  else if (r.prefixRewrite !== undefined) path = r.prefixRewrite + bare.slice((route.match.prefix ?? route.match.path ?? '').length) + query;
  const host = r.host ?? stripPort(view.authority);
  const scheme = r.scheme ?? view.scheme;
  const defaultPort = scheme === 'https' ? 443 : 80;
  const originalPort = view.authority.slice(stripPort(view.authority).length + 1);
  const port = r.port ?? (r.scheme !== undefined ? defaultPort : originalPort ? Number(originalPort) : defaultPort);
  return `${scheme}://${host}${port === defaultPort ? '' : `:${port}`}${path}`;
}

function handleOutbound(
  ctx: ListenerContext,
  h2: H2SessionPool,
  h1: Http1Upstream,
  req: AppRequest,
  res: AppResponse,
): void {
  const startTime = new Date();
  const started = performance.now();
  const method = req.method ?? 'GET';
  const received = req.url ?? '/';
  // Routing, the filters and the upstream see the path normalized as the chain's connection
  // manager says (meshConfig pathNormalization; NONE when it says nothing).
  const normalized = normalizePath(received, outboundChain(ctx)?.pathNormalization ?? 'NONE');
  const path = normalized.ok ? normalized.path : received;
  const isH2 = !(req instanceof http.IncomingMessage);
  const host = String((isH2 ? req.headers[':authority'] : undefined) ?? req.headers.host ?? '').toLowerCase();
  // The router and the upstream transports read HTTP/1.1-shaped headers (Host, no pseudo-headers).
  const requestHeaders = isH2 ? h2DownstreamHeaders(req.headers, host) : req.headers;
  const own = ctx.workload;
  const labels = blankLabels('source');
  labels.source_workload = own.name;
  labels.source_workload_namespace = own.namespace;
  labels.source_principal = ctx.certificate().spiffeId;
  labels.source_cluster = own.cluster;
  const grpc = isGrpcRequest(requestHeaders);
  if (grpc) labels.request_protocol = 'grpc';
  let requestBytes = 0;
  let responseBytes = 0;
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;
  let transportFailure: string | undefined;
  const aborts: (() => void)[] = [];
  const signal = { aborted: false, onAbort: (cb: () => void) => aborts.push(cb) };
  const body = hasBody(req) ? req : undefined;
  body?.on('data', (chunk: Buffer) => {
    requestBytes += chunk.length;
  });

  let completed = false;
  res.once('finish', () => {
    completed = true;
  });
  // 'close' fires once, after the response finished or the connection went away.
  res.once('close', () => {
    // Node's HTTP/2 compatibility response emits 'finish' on any stream close, a reset too
    // (attack case 13): only a response that was ended is complete.
    if (!completed || !res.writableEnded) {
      signal.aborted = true;
      for (const a of aborts) a();
    }
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
      protocol: isH2 ? 'HTTP2' : 'HTTP11',
      grpcStatus: labels.grpc_response_status,
      ...(transportFailure !== undefined ? { upstreamTransportFailureReason: transportFailure } : {}),
    });
  });

  const flags: string[] = [];
  const setFlags = (more: string[]): void => {
    flags.push(...more);
    if (flags.length > 0) labels.response_flags = flags.join(',');
  };
  const localReply = (reply: LocalReply, freq?: FilterRequest, filters?: readonly HttpFilter[]): void => {
    setFlags(reply.flag ? [reply.flag] : []);
    req.resume();
    if (res.headersSent) {
      resetApp(res);
      return;
    }
    if (grpc && (reply.flag !== '' || reply.headers?.['grpc-status'] !== undefined)) {
      // A gRPC request failed in the mesh: a trailers-only reply, as Envoy's local replies for gRPC.
      const explicit = reply.headers?.['grpc-status'];
      const flag = flags.join(',') || reply.flag;
      const headers = grpcLocalReplyHeaders(reply.status, explicit !== undefined ? Number(explicit) : undefined, reply.body || flag, flag ? { [RESPONSE_FLAGS_HEADER]: flag } : {});
      if (res instanceof http.ServerResponse) {
        res.writeHead(200, headers);
        res.end();
      } else {
        res.statusCode = 200;
        writeGrpcLocalReply(res.stream, headers);
      }
      labels.grpc_response_status = String(headers['grpc-status']);
      return;
    }
    if (!reply.flag && reply.headers !== undefined) {
      // A filter's own reply (a CORS preflight): no response-flags header, as Envoy sends none.
      const headers = { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) };
      if (freq && filters) for (let i = filters.length - 1; i >= 0; i--) filters[i]!.onResponseHeaders?.(freq, reply.status, headers);
      res.writeHead(reply.status, headers);
      res.end(reply.body);
      responseBytes = Buffer.byteLength(reply.body);
      return;
    }
    responseBytes = writeLocalReply(res, reply.status, flags.join(',') || reply.flag, reply.body, reply.headers);
  };

  if (!normalized.ok) {
    localReply({ status: 400, flag: '', body: `invalid path: ${normalized.reason}` });
    return;
  }
  const view: RequestView = { method, path, authority: host, scheme: 'http', headers: requestHeaders };
  const table = outboundRouteTable(ctx);
  const decision = routeRequest(table, view, ctx.random);
  const destination = decision.ok && decision.cluster ? destinationOfCluster(decision.cluster.name) : undefined;
  if (decision.ok && !decision.cluster && decision.virtualHost.name === BLOCK_ALL_VIRTUAL_HOST) {
    // As Istio: a request REGISTRY_ONLY refuses is reported against BlackHoleCluster.
    labels.destination_service = BLACKHOLE_CLUSTER;
    labels.destination_service_name = BLACKHOLE_CLUSTER;
  } else if (destination) {
    labels.destination_service = destination.service;
    labels.destination_service_name = destination.serviceName;
  } else {
    labels.destination_service = stripPort(host) || UNKNOWN;
    labels.destination_service_name = serviceNameOf(labels.destination_service);
  }
  if (!decision.ok) {
    localReply({ status: 404, flag: 'NR', body: `no route for host "${host}"` });
    return;
  }
  const route = decision.route;
  const filters = chainFilters(outboundChain(ctx), ctx);
  const freq: FilterRequest = { request: view, route, flags: [], random: ctx.random };
  const proceed = (): void => {
    if (freq.flags.length > 0) setFlags(freq.flags.filter((f) => f !== 'FI'));
    if (route.redirect) {
      localReply({ status: route.redirect.responseCode, flag: '', body: '', headers: { location: redirectLocation(route.redirect, route, view) } });
      return;
    }
    if (route.directResponse) {
      const d = route.directResponse;
      localReply({ status: d.status, flag: '', body: d.body ?? '', headers: { 'content-type': 'text/plain; charset=utf-8' } });
      return;
    }
    const cluster = decision.cluster;
    if (!cluster) {
      localReply({ status: 404, flag: 'NR', body: `no route for host "${host}"` });
      return;
    }
    upstreamCluster = cluster.name;
    const hash = route.hashPolicy ? routeHash(route.hashPolicy, { headers: requestHeaders, path, socket: req.socket }) : undefined;
    if (hash?.setCookie !== undefined) res.setHeader('set-cookie', hash.setCookie);
    const remote = req.socket.remoteAddress;
    const originalDst = remote !== undefined ? ctx.appOriginalDst?.(remote, req.socket.remotePort ?? 0) : undefined;
    const up = outboundUpstream(ctx, h2, h1, route.retry?.hostSelectionRetryMaxAttempts ?? 1, hash?.hashKey, originalDst);
    const timeoutMs = route.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
    void forward(route, cluster, { method, path, authority: host, headers: requestHeaders, body }, timeoutMs, up, signal).then((result) => {
      if (result.target) {
        const { endpoint, mtls } = result.target;
        if (endpoint.workload) labels.destination_workload = endpoint.workload;
        if (endpoint.namespace) labels.destination_workload_namespace = endpoint.namespace;
        if (endpoint.cluster) labels.destination_cluster = endpoint.cluster;
        if (mtls) labels.connection_security_policy = 'mutual_tls';
        upstreamRemote = { host: endpoint.address.host, port: mtls ? (endpoint.inboundPort ?? endpoint.address.port) : endpoint.address.port };
      }
      if (appGone(res)) {
        if (result.ok) result.response.body.destroy();
        return;
      }
      setFlags(result.flags);
      if (!result.ok) {
        if (result.reply.flag === 'UF') transportFailure = result.reply.body;
        localReply(result.reply);
        return;
      }
      const upstream = result.response;
      const peerMeta = takePeerMetadata(upstream.headers);
      if (peerMeta) {
        labels.destination_workload = peerMeta.workload || labels.destination_workload;
        labels.destination_workload_namespace = peerMeta.namespace || labels.destination_workload_namespace;
        labels.destination_cluster = peerMeta.cluster || labels.destination_cluster;
      }
      if (upstream.peer) labels.destination_principal = upstream.peer.spiffeId;
      const headers = responseHeadersForH1(upstream.headers, upstream.peer !== undefined);
      editResponseHeaders(route, cluster, headers);
      for (let i = filters.length - 1; i >= 0; i--) filters[i]!.onResponseHeaders?.(freq, upstream.status, headers);
      if (upstream.endAfterHeaders && !(res instanceof http.ServerResponse)) {
        res.statusCode = upstream.status;
        respondHeadersOnly(res.stream, upstream.status, headers);
        upstream.body.resume();
        if (grpc) labels.grpc_response_status = grpcStatusOf(upstream.headers, undefined) ?? '';
        return;
      }
      res.writeHead(upstream.status, headers);
      relayBody(upstream.body, res, upstream.trailers, {
        data: (n) => {
          responseBytes += n;
        },
        done: (ok) => {
          if (!ok) setFlags(['UR']);
          if (grpc) labels.grpc_response_status = grpcStatusOf(upstream.headers, upstream.trailers()) ?? '';
        },
      });
    });
  };
  // Filters act only on routes that carry their config: a route without any costs nothing here.
  const perRoute = route.perFilter.fault !== undefined || route.perFilter.cors !== undefined || route.perFilter.localRateLimit !== undefined;
  if (filters.length === 0 || (!perRoute && !filters.some((f) => f.everyRoute))) {
    proceed();
    return;
  }
  void runFilters(filters, freq, 0).then((reply) => {
    if (appGone(res)) return;
    if (reply) {
      if (freq.flags.length > 0) setFlags(freq.flags.filter((f) => f !== reply.flag));
      localReply(reply, freq, filters);
      return;
    }
    proceed();
  });
}

/**
 * Pipes an upstream body to the app, then its trailers (grpc-status, grpc-message, ...) unchanged:
 * as HTTP/2 trailers to an h2c app, as chunked trailers to an HTTP/1.1 one. `done(true)` runs once
 * the body ended; `done(false)` once it failed or closed before its end, and the response is then
 * reset (the app sees it). When the app goes away first, the caller's abort closes the body and
 * `done(false)` follows.
 */
function relayBody(
  body: Readable,
  res: AppResponse,
  trailers: () => http.IncomingHttpHeaders | undefined,
  on: { data: (bytes: number) => void; done: (ok: boolean) => void },
): void {
  body.on('data', (chunk: Buffer) => on.data(chunk.length));
  body.once('end', () => {
    on.done(true);
    const t = trailers();
    if (t) res.addTrailers(endToEndTrailers(t));
    res.end();
  });
  body.once('close', () => {
    if (body.readableEnded) return;
    on.done(false);
    resetApp(res);
  });
  // 'close' follows every 'error' (autoDestroy); this listener only keeps the error handled.
  body.on('error', () => {});
  body.pipe(res, { end: false });
}

/** Trailers without pseudo-headers (HTTP/2 forbids them in trailers). */
function endToEndTrailers(t: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const name in t) if (!name.startsWith(':') && t[name] !== undefined) out[name] = t[name];
  return out;
}
