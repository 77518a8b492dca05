import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { FilterRequest } from '../dataplane/http/http-filter-interface.ts';
import { type RequestView, routeRequest, stripPort } from '../dataplane/http/route-table.ts';
import { upstreamRequest } from '../dataplane/http/router.ts';
import { h1ToH1RequestHeaders, h1ToH2RequestHeaders } from './headers.ts';
import { blankLabels, type ListenerContext, reportRequest, RESPONSE_FLAGS_HEADER, UNKNOWN } from './listener-context.ts';
import { PEER_METADATA_HEADER, takePeerMetadata } from './peer-metadata.ts';
import { chainFilters, outboundChain, outboundRouteTable, runFilters } from './outbound-chain.ts';
import { serviceNameOf } from './telemetry.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import { http1Head, splice, upgradeResponseHeaders } from './websocket-tunnel.ts';

/**
 * WebSocket from the app on the outbound listener: an HTTP/1.1 `Upgrade: websocket` request is
 * routed like any request (the route's `upgrade_configs` entry, else the connection manager's,
 * must enable websocket: else 403, as Envoy answers `upgrade_failed`), through the chain's HTTP
 * filters (a fault delay or abort, CORS, the local rate limit apply to the upgrade request), with
 * the route's rewrites and request header edits; a redirect or direct response is refused (403: it
 * cannot answer an upgrade). Then
 * - to a mesh endpoint: RFC 8441 extended CONNECT (`:method CONNECT`, `:protocol websocket`) on the
 *   pooled mTLS HTTP/2 session to its sidecar, which a pair of Envoys with `allow_connect` speaks too;
 * - to a plaintext endpoint: the same HTTP/1.1 upgrade.
 * Once the upstream accepts (200 on the tunnel, 101 from a plaintext one) the app gets 101 with
 * the upstream's end-to-end headers (Sec-WebSocket-Accept, the chosen subprotocol) and the bytes
 * are spliced both ways. A refusal is relayed with its status. Local replies carry the response
 * flag (NR, UH, UF, ...); an upstream that resets the tunnel gives UC. One istio_requests_total
 * sample per upgrade, when the tunnel closes, with response code 101.
 */
export function handleOutboundUpgrade(ctx: ListenerContext, h2: H2SessionPool, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  const startTime = new Date();
  const started = performance.now();
  const host = (req.headers.host ?? '').toLowerCase();
  const path = req.url ?? '/';
  const labels = blankLabels('source');
  labels.source_workload = ctx.workload.name;
  labels.source_workload_namespace = ctx.workload.namespace;
  labels.source_principal = ctx.certificate().spiffeId;
  labels.source_cluster = ctx.workload.cluster;
  labels.destination_service = stripPort(host) || UNKNOWN;
  labels.destination_service_name = serviceNameOf(labels.destination_service);
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;
  let reported = false;
  const report = (status: number, bytes = { up: 0, down: 0 }): void => {
    if (reported) return;
    reported = true;
    reportRequest(ctx, labels, {
      reporter: 'source',
      startTime,
      durationMs: performance.now() - started,
      requestBytes: bytes.up,
      responseBytes: bytes.down,
      downstreamRemote: req.socket.remoteAddress ? { host: req.socket.remoteAddress, port: req.socket.remotePort ?? 0 } : undefined,
      upstreamRemote,
      upstreamCluster,
      method: req.method ?? 'GET',
      path,
      authority: host,
      responseCode: status,
      protocol: 'HTTP11',
    });
  };
  socket.on('error', () => {});
  const reply = (status: number, flag: string, message: string): void => {
    if (flag) labels.response_flags = flag;
    const body = `${message}\n`;
    const headers = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close', ...(flag ? { [RESPONSE_FLAGS_HEADER]: flag } : {}) };
    socket.end(http1Head(status, http.STATUS_CODES[status] ?? '', headers) + body);
    report(status);
  };

  if (String(req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
    reply(403, '', `upgrade "${String(req.headers.upgrade ?? '')}" is not allowed`);
    return;
  }
  const chain = outboundChain(ctx);
  const view: RequestView = { method: req.method ?? 'GET', path, authority: host, scheme: 'http', headers: req.headers };
  const decision = routeRequest(outboundRouteTable(ctx), view, ctx.random);
  if (!decision.ok) {
    reply(404, 'NR', `no route for host "${host}"`);
    return;
  }
  const enabled = decision.route.websocket ?? chain?.websocket ?? false;
  if (!enabled || !decision.cluster) {
    reply(403, '', decision.cluster ? 'websocket upgrades are not enabled for this route' : 'a redirect or direct response cannot answer an upgrade');
    return;
  }
  const filters = chainFilters(chain, ctx);
  const freq: FilterRequest = { request: view, route: decision.route, flags: [], random: ctx.random };
  void runFilters(filters, freq, 0).then((local) => {
    if (socket.destroyed) return;
    if (local) {
      reply(local.status, [...freq.flags.filter((f) => f !== local.flag), local.flag].filter((f) => f !== '').join(','), local.body);
      return;
    }
    if (freq.flags.length > 0) labels.response_flags = freq.flags.join(',');
    const cluster = decision.cluster;
    if (!cluster) return;
    const rewritten = upstreamRequest(decision.route, cluster, { method: 'GET', path, authority: host, headers: req.headers, body: undefined });
    tunnel(ctx, h2, socket, head, rewritten.path, rewritten.headers, cluster.name, labels, {
      reply,
      report,
      setUpstream: (c, r) => {
        upstreamCluster = c;
        upstreamRemote = r;
      },
    });
  });
}

/** The upgrade once routed and filtered: pick the endpoint, open the tunnel, splice. */
function tunnel(
  ctx: ListenerContext,
  h2: H2SessionPool,
  socket: Duplex,
  head: Buffer,
  path: string,
  requestHeaders: http.IncomingHttpHeaders,
  upstreamCluster: string,
  labels: ReturnType<typeof blankLabels>,
  on: {
    reply(status: number, flag: string, message: string): void;
    report(status: number, bytes?: { up: number; down: number }): void;
    setUpstream(cluster: string, remote: { host: string; port: number } | undefined): void;
  },
): void {
  const { reply, report } = on;
  on.setUpstream(upstreamCluster, undefined);
  const picked = ctx.clusters.pick(upstreamCluster, {});
  if (!picked.ok) {
    reply(picked.status, picked.flag, picked.message);
    return;
  }
  const cluster = ctx.clusters.get(upstreamCluster)?.config;
  const ep = picked.endpoint;
  const mtls = cluster?.tls !== undefined && cluster.tls.origination === undefined && ep.tlsMode === 'istio';
  if (ep.workload) labels.destination_workload = ep.workload;
  if (ep.namespace) labels.destination_workload_namespace = ep.namespace;
  if (ep.cluster) labels.destination_cluster = ep.cluster;
  const accepted = (upstream: Duplex, upstreamHead: http.IncomingHttpHeaders): void => {
    picked.report({ kind: 'response', status: 101 });
    const peer = takePeerMetadata(upstreamHead);
    if (peer) {
      labels.destination_workload = peer.workload || labels.destination_workload;
      labels.destination_workload_namespace = peer.namespace || labels.destination_workload_namespace;
      labels.destination_cluster = peer.cluster || labels.destination_cluster;
    }
    const headers = { ...upgradeResponseHeaders(upstreamHead, [PEER_METADATA_HEADER]), connection: 'Upgrade', upgrade: 'websocket' };
    socket.write(http1Head(101, 'Switching Protocols', headers));
    if (head.length > 0) upstream.write(head);
    splice(socket, upstream, (cleanly, bytes) => {
      if (!cleanly) labels.response_flags = 'UC';
      picked.release();
      report(101, bytes);
    });
  };
  const failed = (flag: 'UF' | 'UR', message: string): void => {
    picked.report(flag === 'UF' ? { kind: 'connect-failure' } : { kind: 'reset' });
    picked.release();
    reply(503, flag, message);
  };
  const refused = (status: number, headers: http.IncomingHttpHeaders): void => {
    picked.report({ kind: 'response', status });
    picked.release();
    const out = upgradeResponseHeaders(headers, [PEER_METADATA_HEADER]);
    socket.end(http1Head(status, http.STATUS_CODES[status] ?? '', { ...out, 'content-length': 0, connection: 'close' }));
    report(status);
  };

  // Plaintext to a mesh workload (tls DISABLE): the tunnel goes over h2c to its sidecar.
  const plaintextMesh = !mtls && cluster !== undefined && cluster.tls === undefined && ep.tlsMode === 'istio' && ep.inboundPort !== undefined;
  if ((mtls && cluster?.tls) || plaintextMesh) {
    if (mtls) labels.connection_security_policy = 'mutual_tls';
    const port = ep.inboundPort ?? ep.address.port;
    on.setUpstream(upstreamCluster, { host: ep.address.host, port });
    const headers = h1ToH2RequestHeaders({ method: 'GET', path, headers: requestHeaders });
    headers[':method'] = 'CONNECT';
    headers[':protocol'] = 'websocket';
    headers[PEER_METADATA_HEADER] = ctx.peerMetadata;
    void h2
      .connect(
        cluster?.tls ? { host: ep.address.host, port, sni: ep.sni ?? cluster.tls.sni, alpn: cluster.tls.alpn } : { host: ep.address.host, port, sni: '', alpn: [], plaintext: true },
        headers,
        cluster?.connectTimeoutMs ?? 5000,
      )
      .then((r) => {
        if (socket.destroyed) {
          if (r.ok && r.value.kind === 'tunnel') r.value.tunnel.stream.destroy();
          picked.release();
          return;
        }
        if (!r.ok) failed(r.errors.flag === 'UF' ? 'UF' : 'UR', r.errors.message);
        else if (r.value.kind === 'refused') refused(r.value.status, r.value.headers);
        else {
          if (r.value.tunnel.peer) labels.destination_principal = r.value.tunnel.peer.spiffeId;
          accepted(r.value.tunnel.stream, r.value.tunnel.headers);
        }
      });
    return;
  }
  // A plaintext endpoint: the same HTTP/1.1 upgrade.
  on.setUpstream(upstreamCluster, { ...ep.address });
  const headers = { ...h1ToH1RequestHeaders({ method: 'GET', path, headers: requestHeaders }), connection: 'Upgrade', upgrade: 'websocket' };
  const up = http.request({ host: ep.address.host, port: ep.address.port, method: 'GET', path, headers, agent: false, timeout: cluster?.connectTimeoutMs });
  up.once('upgrade', (res, upSocket, upHead) => {
    if (upHead.length > 0) upSocket.unshift(upHead);
    accepted(upSocket, res.headers);
  });
  up.once('response', (res) => {
    res.resume();
    refused(res.statusCode ?? 502, res.headers);
  });
  up.once('timeout', () => up.destroy(new Error('connect timeout')));
  up.once('error', (e: Error) => failed('UF', e.message));
  up.end();
}
