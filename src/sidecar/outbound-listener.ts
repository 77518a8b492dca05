import http from 'node:http';
import { pipeline } from 'node:stream';
import type { RouteTable } from '../xds/config-types.ts';
import { LISTENER, parseOutboundClusterName } from '../xds/naming.ts';
import { h1ToH1RequestHeaders, h1ToH2RequestHeaders, responseHeadersForH1 } from './headers.ts';
import {
  blankLabels,
  DEFAULT_ROUTE_TIMEOUT_MS,
  type ListenerContext,
  RESPONSE_FLAGS_HEADER,
  UNKNOWN,
} from './listener-context.ts';
import { healthyEndpoints } from './load-balancer.ts';
import { PEER_METADATA_HEADER, takePeerMetadata } from './peer-metadata.ts';
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
 * TLS failure), UR 503 (reset), UT 504 (route timeout). Requests that Node's parser rejects get
 * its 400 and never reach routing.
 */

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
  labels.destination_service = stripPort(host) || UNKNOWN;
  labels.destination_service_name = serviceNameOf(labels.destination_service);
  let requestBytes = 0;
  let responseBytes = 0;
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;
  req.on('data', (chunk: Buffer) => {
    requestBytes += chunk.length;
  });

  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    labels.response_code = String(res.statusCode);
    const durationMs = performance.now() - started;
    ctx.telemetry.record({ labels, durationMs, requestBytes, responseBytes });
    ctx.accessLog({
      reporter: 'source',
      startTime,
      durationMs,
      downstreamRemote: req.socket.remoteAddress ? { host: req.socket.remoteAddress, port: req.socket.remotePort ?? 0 } : undefined,
      upstreamRemote,
      upstreamCluster,
      method,
      path,
      authority: host,
      responseCode: res.statusCode,
      responseFlags: labels.response_flags,
      protocol: 'HTTP11',
      sourceWorkload: labels.source_workload,
      sourceNamespace: labels.source_workload_namespace,
      sourceCluster: labels.source_cluster,
      destinationService: labels.destination_service,
      destinationWorkload: labels.destination_workload,
      destinationCluster: labels.destination_cluster,
      connectionSecurityPolicy: labels.connection_security_policy,
    });
  };
  res.once('close', finish);

  const localReply = (status: number, flag: string, message: string): void => {
    labels.response_flags = flag;
    req.resume();
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${message}\n`;
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      [RESPONSE_FLAGS_HEADER]: flag,
    });
    responseBytes = Buffer.byteLength(body);
    res.end(body);
  };

  const decision = routeRequest(outboundRouteTable(ctx), host, path, req.headers, ctx.random);
  if (!decision.ok) {
    localReply(404, 'NR', `no route for host "${host}"`);
    return;
  }
  const cfg = ctx.config();
  const cluster = cfg.clusters.get(decision.cluster);
  upstreamCluster = decision.cluster;
  const parsedName = parseOutboundClusterName(decision.cluster);
  if (parsedName) {
    labels.destination_service = parsedName.hostname;
    labels.destination_service_name = serviceNameOf(parsedName.hostname);
  }
  if (!cluster) {
    localReply(503, 'NC', `cluster "${decision.cluster}" not found`);
    return;
  }
  const endpoint = ctx.picker.pick(cluster.name, healthyEndpoints(cluster, cfg));
  if (!endpoint) {
    localReply(503, 'UH', `no healthy upstream for "${cluster.name}"`);
    return;
  }
  if (endpoint.workload) labels.destination_workload = endpoint.workload;
  if (endpoint.namespace) labels.destination_workload_namespace = endpoint.namespace;
  if (endpoint.cluster) labels.destination_cluster = endpoint.cluster;

  const mtls = cluster.tls !== undefined && endpoint.tlsMode === 'istio';
  const head = { method, path, headers: req.headers };
  let call: UpstreamCall;
  if (mtls && cluster.tls) {
    labels.connection_security_policy = 'mutual_tls';
    const port = endpoint.inboundPort ?? endpoint.address.port;
    upstreamRemote = { host: endpoint.address.host, port };
    const headers = h1ToH2RequestHeaders(head);
    headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
    call = h2.request(
      { host: endpoint.address.host, port, sni: cluster.tls.sni, alpn: cluster.tls.alpn },
      { method, path, headers, body: req, connectTimeoutMs: cluster.connectTimeoutMs },
    );
  } else {
    upstreamRemote = { ...endpoint.address };
    call = h1.request(endpoint.address, {
      method,
      path,
      headers: h1ToH1RequestHeaders(head),
      body: req,
      connectTimeoutMs: cluster.connectTimeoutMs,
    });
  }

  const timeoutMs = decision.route.timeoutMs ?? DEFAULT_ROUTE_TIMEOUT_MS;
  let timedOut = false;
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          call.abort();
          localReply(504, 'UT', `upstream timeout after ${timeoutMs} ms`);
        }, timeoutMs)
      : undefined;
  res.once('close', () => {
    clearTimeout(timer);
    if (!res.writableFinished) call.abort();
  });

  void call.response.then((result) => {
    if (timedOut || res.destroyed) {
      if (result.ok) result.value.body.destroy();
      return;
    }
    if (!result.ok) {
      clearTimeout(timer);
      localReply(503, result.errors.flag, result.errors.message);
      return;
    }
    const upstream = result.value;
    const peerMeta = takePeerMetadata(upstream.headers);
    if (peerMeta) {
      labels.destination_workload = peerMeta.workload || labels.destination_workload;
      labels.destination_workload_namespace = peerMeta.namespace || labels.destination_workload_namespace;
      labels.destination_cluster = peerMeta.cluster || labels.destination_cluster;
    }
    if (upstream.peer) labels.destination_principal = upstream.peer.spiffeId;
    res.writeHead(upstream.status, responseHeadersForH1(upstream.headers));
    upstream.body.on('data', (chunk: Buffer) => {
      responseBytes += chunk.length;
    });
    pipeline(upstream.body, res, (err) => {
      clearTimeout(timer);
      if (err && !timedOut) labels.response_flags = 'UR';
    });
  });
}
