import type http from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import type { TLSSocket } from 'node:tls';
import { errorMessage } from '../common/errors.ts';
import { PORTS } from '../common/ports.ts';
import type { HttpFilterChain, ListenerConfig, ProxyConfig, RouteTable } from '../xds/config-types.ts';
import { LISTENER, parseSni } from '../xds/naming.ts';
import type { CertBundle } from './cert-source.ts';
import { blankLabels, DEFAULT_ROUTE_TIMEOUT_MS, type ListenerContext, reportRequest, shedIfOverloaded, UNKNOWN, writeLocalReply } from './listener-context.ts';
import { buildXfcc, clientPeerIdentityOfSocket, listenerTrustDomains, type PeerIdentity } from './peer-identity.ts';
import { PEER_METADATA_HEADER, takePeerMetadata } from './peer-metadata.ts';
import { routeRequest, stripPort } from '../dataplane/http/route-table.ts';
import { serviceNameOf } from './telemetry.ts';
import { MESH_CONNECTION_WINDOW_BYTES } from './upstream-h2-pool.ts';
import { acceptPlaintext } from './inbound-plaintext.ts';
import { dropInternalHeaders, isInternalHeader } from './headers.ts';
import { inboundPassthrough } from './inbound-passthrough.ts';
import { forwardToAppH2 } from './inbound-app-h2.ts';
import { grpcLocalReplyHeaders, grpcStatusOf, isGrpcRequest, writeGrpcLocalReply } from './grpc-status.ts';
import { RESPONSE_FLAGS_HEADER } from './listener-context.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import { handleInboundUpgrade } from './websocket-inbound.ts';
import { acceptMeshTcp } from './inbound-tcp.ts';
import { MESH_TLS_SERVER_POLICY } from './mesh-tls-policy.ts';
import { sidecarTcpConnector } from './tcp-upstream.ts';
import { applyConnectionLimit, applyH2Bounds, type BoundsStat, DEFAULT_LISTENER_BOUNDS, h2ServerBoundsOptions, type ListenerBounds } from './listener-bounds.ts';
import { chainFilters, runFilters } from './outbound-chain.ts';
import type { ConnectionFacts, FilterRequest, LocalReply } from '../dataplane/http/http-filter-interface.ts';
import { DEFAULT_PATH_NORMALIZATION, normalizePath } from '../dataplane/http/path-normalize.ts';

/**
 * The inbound listener (`virtualInbound`, :15006): mesh mTLS over HTTP/2 from other sidecars (or
 * through an east-west gateway), and plaintext HTTP/2 from callers whose DestinationRule disables
 * TLS (PERMISSIVE, see inbound-plaintext.ts: no peer identity, no XFCC). The TLS layer refuses clients without a certificate chaining to
 * our roots; after the handshake a peer whose leaf lacks a well-formed SPIFFE ID is disconnected.
 * Requests are forwarded to the app over HTTP/1.1 with http2-proxy, or over h2c when the inbound
 * cluster speaks HTTP/2 (inbound-app-h2.ts: http2 and grpc ports, trailers relayed), with XFCC set
 * to the verified peer (client XFCC is always stripped) and the peer metadata header exchanged.
 * Local replies to gRPC requests are trailers-only (grpc-status from the HTTP status, as Envoy).
 */

// http2-proxy is CommonJS whose exports Node's ESM loader cannot detect statically.
const { web } = createRequire(import.meta.url)('http2-proxy') as typeof import('http2-proxy');

export const XFCC_HEADER = 'x-forwarded-client-cert';

/** Pick context of inbound requests (no hash policy on inbound routes). */
const NO_HASH = Object.freeze({});

/** Per-connection facts, attached to the TLS socket at handshake time. */
interface InboundConnection {
  /** Absent on a plaintext connection (PERMISSIVE: a caller whose DestinationRule disables TLS). */
  peer: PeerIdentity | undefined;
  sni: string;
  /** The SNI parsed as `outbound_.<port>_.<subset>_.<host>`, if it is one. */
  sniInfo: ReturnType<typeof parseSni>;
}
const kConnection = Symbol('meshfed.inboundConnection');
type SocketWithConnection = { [kConnection]?: InboundConnection };

/** TLS options of the inbound server (also used for setSecureContext on rotation). */
export function inboundSecureContext(bundle: CertBundle): { key: string; cert: string; ca: string } & typeof MESH_TLS_SERVER_POLICY {
  return { key: bundle.privateKeyPem, cert: bundle.certChainPem, ca: bundle.rootsPem, ...MESH_TLS_SERVER_POLICY };
}

/**
 * Picks the filter chain for a connection among the HTTP chains its transport matches (`tls`:
 * chains not marked `raw_buffer`; `raw_buffer`, a plaintext connection: chains without TLS and
 * not marked `tls`, which PeerAuthentication PERMISSIVE and DISABLE ports have): the chain whose
 * destinationPort equals the port in the client's SNI (`outbound_.<port>_…`), else the only one,
 * else none.
 */
export function selectInboundChain(
  listener: ListenerConfig | undefined,
  sni: string | undefined,
  transport: 'tls' | 'raw_buffer' = 'tls',
): HttpFilterChain | undefined {
  if (!listener) return undefined;
  const chains = listener.filterChains.filter(
    (c): c is HttpFilterChain =>
      c.kind === 'http' && (transport === 'tls' ? c.transportProtocol !== 'raw_buffer' : c.transportProtocol !== 'tls' && c.tls === undefined),
  );
  const port = sni ? parseSni(sni)?.port : undefined;
  if (port !== undefined) {
    const byPort = chains.find((c) => c.destinationPort === port);
    if (byPort) return byPort;
  }
  return chains.length === 1 ? chains[0] : undefined;
}

/**
 * Sanitizes the XFCC header of a request bound for the app (mutates `headers`): any value the
 * client sent is removed; when `setXfcc`, the verified peer's element is set.
 */
export function sanitizeXfcc(
  headers: Record<string, unknown>,
  setXfcc: boolean,
  ownSpiffeId: string,
  peer: PeerIdentity | undefined,
): void {
  delete headers[XFCC_HEADER];
  if (setXfcc && peer) headers[XFCC_HEADER] = buildXfcc(ownSpiffeId, peer);
}

function routeTableOf(cfg: ProxyConfig, chain: HttpFilterChain): RouteTable | undefined {
  return chain.routes ?? (chain.routeConfigName !== undefined ? cfg.routes.get(chain.routeConfigName) : undefined);
}

export function createInboundServer(
  ctx: ListenerContext,
  appH2: H2SessionPool,
  bounds: Readonly<ListenerBounds> = DEFAULT_LISTENER_BOUNDS,
  stat: BoundsStat = () => {},
): http2.Http2SecureServer {
  const limits = h2ServerBoundsOptions(bounds);
  const server = http2.createSecureServer({
    ...limits,
    ...inboundSecureContext(ctx.certificate()),
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2'],
    allowHTTP1: false,
    // RFC 8441: websocket from other sidecars arrives as extended CONNECT (websocket-inbound.ts).
    settings: { ...limits.settings, enableConnectProtocol: true },
  });
  applyConnectionLimit(server, bounds, stat);
  applyH2Bounds(server, bounds, stat);
  server.on('session', (session: http2.ServerHttp2Session) => {
    session.setLocalWindowSize(MESH_CONNECTION_WINDOW_BYTES);
  });
  // A chain from a foreign root (or a client EKU OpenSSL refuses) fails here, before secureConnection.
  server.on('tlsClientError', (e: Error, socket: TLSSocket) => {
    ctx.logger.warn({ remote: socket.remoteAddress, err: e.message }, 'inbound mTLS handshake refused (client certificate not trusted by the mesh roots)');
    socket.destroy();
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    const peer = clientPeerIdentityOfSocket(socket, ctx.certificate().spiffeId, listenerTrustDomains(ctx.config().listeners.get(LISTENER.virtualInbound)));
    if (!peer.ok) {
      ctx.logger.warn({ remote: socket.remoteAddress, errors: peer.errors }, 'inbound peer rejected');
      socket.destroy();
      return;
    }
    const sni = typeof socket.servername === 'string' ? socket.servername : '';
    // PeerAuthentication DISABLE on every HTTP port: no chain takes mTLS (Envoy's no_filter_chain_match).
    if (!hasChain(ctx, 'tls')) {
      ctx.telemetry.countEnvoyStat(NO_CHAIN_STAT);
      ctx.logger.info({ remote: socket.remoteAddress, sni }, 'inbound mTLS connection refused: no port accepts mTLS (PeerAuthentication DISABLE)');
      socket.destroy();
      return;
    }
    (socket as unknown as SocketWithConnection)[kConnection] = { peer: peer.value, sni, sniInfo: parseSni(sni) };
  });
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (!shedIfOverloaded(ctx, res, stat)) handleInbound(ctx, appH2, req, res);
  });
  server.on('connect', (req: http2.Http2ServerRequest) => {
    const conn = (req.stream.session?.socket as unknown as SocketWithConnection | undefined)?.[kConnection];
    if (!conn) {
      req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const cfg = ctx.config();
    const chain = selectInboundChain(cfg.listeners.get(LISTENER.virtualInbound), conn.sni, conn.peer ? 'tls' : 'raw_buffer');
    handleInboundUpgrade(ctx, req, chain, chain ? routeTableOf(cfg, chain) : undefined, { peer: conn.peer, service: conn.sniInfo?.hostname }, (headers) =>
      sanitizeXfcc(headers as Record<string, unknown>, chain?.setXfcc ?? false, ctx.certificate().spiffeId, conn.peer),
    );
  });
  const reader = ctx.originalDst;
  acceptPlaintext(
    server,
    (socket) => {
      // PeerAuthentication STRICT on every port: no plaintext chain, so no plaintext caller (Envoy's no_filter_chain_match).
      if (!hasChain(ctx, 'raw_buffer')) {
        ctx.telemetry.countEnvoyStat(NO_CHAIN_STAT);
        ctx.logger.info({ remote: socket.remoteAddress }, 'inbound plaintext connection refused: no port accepts plaintext (PeerAuthentication STRICT)');
        return false;
      }
      (socket as unknown as SocketWithConnection)[kConnection] = { peer: undefined, sni: '', sniInfo: undefined };
      return true;
    },
    reader ? (socket, first) => inboundPassthrough(ctx, reader, socket, first) : undefined,
  );
  // Raw mesh TCP (ALPN istio / istio-peer-exchange) is told apart before the HTTP/2 server sees it.
  acceptMeshTcp(server, ctx, sidecarTcpConnector(() => ctx.certificate(), undefined, ctx.inboundSourceAddress));
  return server;
}

/** Envoy's stat for a connection no filter chain of the inbound listener takes. */
export const NO_CHAIN_STAT = `listener.0.0.0.0_15006.no_filter_chain_match`;

/**
 * Whether some HTTP chain of virtualInbound takes this transport: plaintext (a PERMISSIVE or
 * DISABLE port) or mTLS (a STRICT or PERMISSIVE port).
 */
function hasChain(ctx: ListenerContext, transport: 'tls' | 'raw_buffer'): boolean {
  const listener = ctx.config().listeners.get(LISTENER.virtualInbound);
  return (listener?.filterChains ?? []).some(
    (c) => c.kind === 'http' && (transport === 'tls' ? c.transportProtocol !== 'raw_buffer' : c.transportProtocol !== 'tls' && c.tls === undefined),
  );
}

function handleInbound(ctx: ListenerContext, appH2: H2SessionPool, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const startTime = new Date();
  const started = performance.now();
  const socket = req.stream.session?.socket as unknown as SocketWithConnection | undefined;
  const conn = socket?.[kConnection];
  if (!conn) {
    req.stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    return;
  }
  const own = ctx.workload;
  const ownSpiffe = ctx.certificate().spiffeId;
  const authority = String(req.headers[':authority'] ?? req.headers.host ?? '').toLowerCase();
  const labels = blankLabels('destination');
  labels.destination_workload = own.name;
  labels.destination_workload_namespace = own.namespace;
  labels.destination_principal = ownSpiffe;
  labels.destination_cluster = own.cluster;
  labels.destination_service = conn.sniInfo?.hostname ?? (stripPort(authority) || UNKNOWN);
  labels.destination_service_name = serviceNameOf(labels.destination_service);
  labels.source_principal = conn.peer?.spiffeId ?? UNKNOWN;
  labels.connection_security_policy = conn.peer ? 'mutual_tls' : 'none';
  const grpc = isGrpcRequest(req.headers);
  if (grpc) labels.request_protocol = 'grpc';
  const source = takePeerMetadata(req.headers);
  if (source) {
    labels.source_workload = source.workload || UNKNOWN;
    labels.source_workload_namespace = source.namespace || UNKNOWN;
    labels.source_cluster = source.cluster || UNKNOWN;
  }
  const contentLength = Number(req.headers['content-length'] ?? 0);
  let responseBytes = 0;
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;

  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    const remote = req.stream.session?.socket;
    reportRequest(ctx, labels, {
      reporter: 'destination',
      startTime,
      durationMs: performance.now() - started,
      requestBytes: Number.isFinite(contentLength) ? contentLength : 0,
      responseBytes,
      downstreamRemote: remote?.remoteAddress ? { host: remote.remoteAddress, port: remote.remotePort ?? 0 } : undefined,
      upstreamRemote,
      upstreamCluster,
      method: req.method,
      path: req.url,
      authority,
      responseCode: res.statusCode,
      protocol: 'HTTP2',
      grpcStatus: labels.grpc_response_status,
    });
  };
  let release: (() => void) | undefined;
  res.once('close', () => {
    release?.();
    finish();
  });
  res.once('finish', finish);

  const localReply = (status: number, flag: string, message: string, headers?: http.OutgoingHttpHeaders): void => {
    labels.response_flags = flag;
    if (res.headersSent) {
      req.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    if (grpc) {
      res.statusCode = 200;
      labels.grpc_response_status = writeGrpcLocalReply(
        req.stream,
        grpcLocalReplyHeaders(status, undefined, message, { [RESPONSE_FLAGS_HEADER]: flag, [PEER_METADATA_HEADER]: ctx.peerMetadata }),
      );
      return;
    }
    responseBytes = writeLocalReply(res, status, flag, message, { ...headers, [PEER_METADATA_HEADER]: ctx.peerMetadata });
  };

  const cfg = ctx.config();
  const chain = selectInboundChain(cfg.listeners.get(LISTENER.virtualInbound), conn.sni, conn.peer ? 'tls' : 'raw_buffer');
  // Routing, the filters (JWT, RBAC) and the app all see the path normalized as the chain's
  // connection manager says (meshConfig pathNormalization; Istio's default BASE when it says nothing).
  const normalized = normalizePath(req.url, chain?.pathNormalization ?? DEFAULT_PATH_NORMALIZATION);
  if (!normalized.ok) {
    localReply(400, '', `invalid path: ${normalized.reason}`);
    return;
  }
  if (normalized.path !== req.url) req.url = normalized.path;
  const view = { method: req.method, path: req.url, authority, scheme: 'https', headers: req.headers };
  const decision = routeRequest(chain ? routeTableOf(cfg, chain) : undefined, view, ctx.random);
  if (chain && decision.ok && decision.route.directResponse) {
    // Pilot's catch-all for a host the workload does not serve answers 421 here (case 17): the app never sees it.
    const d = decision.route.directResponse;
    ctx.telemetry.countEnvoyStat(`http.inbound_0.0.0.0_${chain.destinationPort ?? PORTS.sidecarInbound}.rq_direct_response`);
    localReply(d.status, '', d.body ?? '', { 'content-type': 'text/plain; charset=utf-8' });
    return;
  }
  if (!chain || !decision.ok || !decision.cluster) {
    localReply(404, 'NR', `no inbound route for "${authority}"`);
    return;
  }
  const filters = chainFilters(chain, ctx);
  const forward = (): void => {
  upstreamCluster = decision.cluster!.name;
  const picked = ctx.clusters.pick(upstreamCluster, NO_HASH);
  if (!picked.ok) {
    localReply(picked.status, picked.flag, picked.message);
    return;
  }
  release = () => picked.release();
  const { endpoint } = picked;
  upstreamRemote = { ...endpoint.address };
  const timeoutMs = decision.route.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
  const cluster = ctx.clusters.get(upstreamCluster)?.config;
  if (cluster?.upstreamHttp2) {
    let appResponseHeaders: http.IncomingHttpHeaders = {};
    const app = { ...endpoint.address, ...(ctx.inboundSourceAddress !== undefined ? { localAddress: ctx.inboundSourceAddress } : {}) };
    forwardToAppH2(appH2, app, req, res, { authority, timeoutMs, connectTimeoutMs: cluster.connectTimeoutMs }, {
      editHeaders: (headers) => {
        dropInternalHeaders(headers);
        sanitizeXfcc(headers, chain.setXfcc, ownSpiffe, conn.peer);
      },
      response: (up) => {
        picked.report({ kind: 'response', status: up.status });
        appResponseHeaders = up.headers;
        const out: http.OutgoingHttpHeaders = {};
        for (const name in up.headers) if (!name.startsWith(':') && !isInternalHeader(name) && up.headers[name] !== undefined) out[name] = up.headers[name];
        out[PEER_METADATA_HEADER] = ctx.peerMetadata;
        return out;
      },
      data: (n) => {
        responseBytes += n;
      },
      end: (trailers) => {
        if (grpc) labels.grpc_response_status = grpcStatusOf(appResponseHeaders, trailers) ?? '';
      },
      failed: (flag, message) => {
        picked.report(flag === 'UT' ? { kind: 'timeout' } : flag === 'UF' ? { kind: 'connect-failure' } : { kind: 'reset' });
        if (!res.closed) localReply(flag === 'UT' ? 504 : 503, flag, message);
        else labels.response_flags = flag;
      },
    });
    return;
  }

  Promise.resolve(
    web(req, res, {
    hostname: endpoint.address.host,
    port: endpoint.address.port,
    ...(timeoutMs > 0 ? { proxyTimeout: timeoutMs } : {}),
    onReq: async (_req: http2.Http2ServerRequest, options: http.RequestOptions): Promise<undefined> => {
      const headers = (options.headers ?? {}) as Record<string, unknown>;
      headers['host'] = authority;
      dropInternalHeaders(headers);
      sanitizeXfcc(headers, chain.setXfcc, ownSpiffe, conn.peer);
      options.headers = headers as http.OutgoingHttpHeaders;
      if (ctx.inboundSourceAddress !== undefined) options.localAddress = ctx.inboundSourceAddress;
      return undefined;
    },
    onRes: async (_req: http2.Http2ServerRequest, out: http2.Http2ServerResponse, proxyRes: http.ServerResponse): Promise<void> => {
      const upstream = proxyRes as unknown as http.IncomingMessage;
      // The upstream response's own headers, already stripped of hop-by-hop fields by http2-proxy.
      const headers: http.OutgoingHttpHeaders = upstream.headers;
      dropInternalHeaders(headers);
      headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
      picked.report({ kind: 'response', status: upstream.statusCode ?? 502 });
      out.writeHead(upstream.statusCode ?? 502, headers);
      upstream.on('data', (chunk: Buffer) => {
        responseBytes += chunk.length;
      });
      // A caller that resets mid-body (attack case 13): pipe() never ends its source, so the
      // app's response (and its connection) would stay open; destroy it.
      out.once('close', () => {
        if (!upstream.complete) upstream.destroy();
      });
      upstream.pipe(out);
    },
    }),
  ).catch((e: unknown) => {
    const status = typeof e === 'object' && e !== null && 'statusCode' in e ? Number((e as { statusCode: unknown }).statusCode) : 502;
    const flag = status === 504 ? 'UT' : status === 503 ? 'UF' : 'UR';
    picked.report(flag === 'UT' ? { kind: 'timeout' } : flag === 'UF' ? { kind: 'connect-failure' } : { kind: 'reset' });
    ctx.logger.debug({ err: errorMessage(e), flag }, 'inbound upstream failed');
    if (!res.closed) localReply(status === 504 ? 504 : 503, flag, errorMessage(e));
    else labels.response_flags = flag;
  });
  };
  if (filters.length === 0) {
    forward();
    return;
  }
  const freq: FilterRequest = {
    request: view,
    route: decision.route,
    flags: [],
    random: ctx.random,
    metadata: new Map(),
    connection: connectionFacts(req, conn, chain.destinationPort),
  };
  void runFilters(filters, freq, 0).then(
    (reply: LocalReply | undefined) => {
      if (res.closed) return;
      if (!reply) {
        if (freq.flags.length > 0) labels.response_flags = freq.flags.join(',');
        forward();
        return;
      }
      const flags = [...freq.flags.filter((f) => f !== reply.flag), reply.flag].filter((f) => f !== '').join(',');
      localReply(reply.status, flags, reply.body, reply.headers);
    },
    (e: unknown) => {
      ctx.logger.warn({ err: errorMessage(e) }, 'inbound http filter failed');
      if (!res.closed) localReply(500, '', 'filter failure');
    },
  );
}

/** The downstream connection's facts for inbound filters (RBAC): no x-forwarded-for is trusted. */
function connectionFacts(req: http2.Http2ServerRequest, conn: InboundConnection, port: number | undefined): ConnectionFacts {
  const socket = req.stream.session?.socket;
  const principal = conn.peer?.spiffeId.replace(/^spiffe:\/\//, '');
  const ns = principal !== undefined ? /\/ns\/([^/]+)\//.exec(principal)?.[1] : undefined;
  const remote = socket?.remoteAddress ?? '';
  return {
    principal,
    namespace: ns,
    sourceIp: remote,
    remoteIp: remote,
    destinationIp: socket?.localAddress ?? '',
    // The app port the chain serves (the listener's own :15006 is never what a policy names).
    destinationPort: port ?? socket?.localPort ?? 0,
    sni: conn.sni,
  };
}
