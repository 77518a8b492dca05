import { randomBytes } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
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
import { http1Head, readDeclinedBody, splice, UPGRADE_DECLINED_HEADER, upgradeResponseHeaders } from './websocket-tunnel.ts';
import type { Readable } from 'node:stream';
import { serverIdentity } from './outbound-upstream.ts';

/**
 * The app's side of one upgrade: an HTTP/1.1 connection after its `Upgrade` request, or an h2c
 * stream of an RFC 8441 extended CONNECT. `accept` answers success (101 on HTTP/1.1, 200 on the
 * h2 stream) and gives the byte stream to splice; `refuse` answers with a status and closes.
 */
interface UpgradeDownstream {
  protocol: 'HTTP11' | 'HTTP2';
  remote: { host: string; port: number } | undefined;
  destroyed(): boolean;
  accept(headers: http.OutgoingHttpHeaders): Duplex;
  refuse(status: number, headers: http.OutgoingHttpHeaders, body: string | Buffer): void;
  /** Takes the app side down after an upstream failure (UC). */
  reset(): void;
}

/** What routing needs of the upgrade request: its target and end-to-end headers (no pseudo-headers). An h2 extended CONNECT is routed as Envoy routes it, as a GET upgrade. */
interface UpgradeRequest {
  method: string;
  path: string;
  host: string;
  headers: http.IncomingHttpHeaders;
  /** `upgrade:` of HTTP/1.1, `:protocol` of an extended CONNECT. */
  protocol: string;
}

/** The HTTP/1.1 entry (the outbound server's `upgrade` event). */
export function handleOutboundUpgrade(ctx: ListenerContext, h2: H2SessionPool, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => {});
  const down: UpgradeDownstream = {
    protocol: 'HTTP11',
    remote: req.socket.remoteAddress ? { host: req.socket.remoteAddress, port: req.socket.remotePort ?? 0 } : undefined,
    destroyed: () => socket.destroyed,
    accept: (headers) => {
      socket.write(http1Head(101, 'Switching Protocols', { ...headers, connection: 'Upgrade', upgrade: 'websocket' }));
      return socket;
    },
    // Not a tunnel: the connection ends with this response (bytes sent after the request are never forwarded).
    refuse: (status, headers, body) => {
      socket.write(http1Head(status, http.STATUS_CODES[status] ?? '', { ...headers, 'content-length': Buffer.byteLength(body), connection: 'close' }));
      socket.end(body);
    },
    reset: () => socket.destroy(),
  };
  const request: UpgradeRequest = {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    host: (req.headers.host ?? '').toLowerCase(),
    headers: req.headers,
    protocol: String(req.headers.upgrade ?? ''),
  };
  handleUpgrade(ctx, h2, down, request, head);
}

/**
 * The h2c entry: an RFC 8441 extended CONNECT (`:protocol websocket`) from an app speaking HTTP/2
 * cleartext to the outbound port (whose SETTINGS enable it, outbound-h2c.ts). The stream becomes
 * the tunnel. An HTTP/2 WebSocket client sends no `Sec-WebSocket-Key` (RFC 8441 §5); so that an
 * HTTP/1.1 app behind the destination sidecar can accept the upgrade, this sidecar supplies one,
 * and drops the `Sec-WebSocket-Accept` that comes back (an h2 client expects none). A CONNECT
 * without `:protocol` (plain tunnelling) is refused with 405.
 */
export function handleOutboundExtendedConnect(ctx: ListenerContext, h2: H2SessionPool, req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const stream = req.stream;
  stream.on('error', () => {});
  const protocol = String(req.headers[':protocol'] ?? '');
  if (protocol === '') {
    res.writeHead(405, { allow: 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS' });
    res.end();
    return;
  }
  const socket = req.socket;
  const headers: http.IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!name.startsWith(':') && value !== undefined) headers[name] = value;
  const authority = String(req.headers[':authority'] ?? req.headers.host ?? '').toLowerCase();
  headers.host = authority;
  const suppliedKey = headers['sec-websocket-key'] === undefined;
  if (suppliedKey) headers['sec-websocket-key'] = randomBytes(16).toString('base64');
  const down: UpgradeDownstream = {
    protocol: 'HTTP2',
    remote: socket.remoteAddress ? { host: socket.remoteAddress, port: socket.remotePort ?? 0 } : undefined,
    destroyed: () => stream.destroyed || stream.closed,
    accept: (out) => {
      const answer: http2.OutgoingHttpHeaders = { ':status': 200 };
      for (const [name, value] of Object.entries(out)) if (!(suppliedKey && name === 'sec-websocket-accept')) answer[name] = value;
      stream.respond(answer);
      return stream;
    },
    refuse: (status, out, body) => {
      if (stream.destroyed || stream.headersSent) return;
      // A 2xx on a CONNECT stream means "tunnel established" (RFC 8441): a declined upgrade's 2xx is a 502.
      stream.respond({ ':status': status >= 200 && status < 300 ? 502 : status, ...out, 'content-length': Buffer.byteLength(body) });
      stream.end(body);
    },
    reset: () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR),
  };
  handleUpgrade(ctx, h2, down, { method: 'GET', path: String(req.headers[':path'] ?? '/'), host: authority, headers, protocol }, Buffer.alloc(0));
}

/**
 * WebSocket from the app on the outbound listener: an HTTP/1.1 `Upgrade: websocket` request, or
 * an RFC 8441 extended CONNECT (`:protocol websocket`) on an h2c connection, is routed like any request (the route's `upgrade_configs` entry, else the connection manager's,
 * must enable websocket: else 403, as Envoy answers `upgrade_failed`), through the chain's HTTP
 * filters (a fault delay or abort, CORS, the local rate limit apply to the upgrade request), with
 * the route's rewrites and request header edits; a redirect or direct response is refused (403: it
 * cannot answer an upgrade). Then
 * - to a mesh endpoint: RFC 8441 extended CONNECT (`:method CONNECT`, `:protocol websocket`) on the
 *   pooled mTLS HTTP/2 session to its sidecar, which a pair of Envoys with `allow_connect` speaks too;
 * - to a plaintext endpoint: the same HTTP/1.1 upgrade.
 * Once the upstream accepts (200 on the tunnel, 101 from a plaintext one) the app gets 101 (200
 * on its h2 stream) with the upstream's end-to-end headers (Sec-WebSocket-Accept, the chosen subprotocol) and the bytes
 * are spliced both ways. A refusal is relayed with its status. Local replies carry the response
 * flag (NR, UH, UF, ...); an upstream that resets the tunnel gives UC. One istio_requests_total
 * sample per upgrade, when the tunnel closes, with response code 101.
 */
function handleUpgrade(ctx: ListenerContext, h2: H2SessionPool, down: UpgradeDownstream, req: UpgradeRequest, head: Buffer): void {
  const startTime = new Date();
  const started = performance.now();
  const host = req.host;
  const path = req.path;
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
      downstreamRemote: down.remote,
      upstreamRemote,
      upstreamCluster,
      method: req.method,
      path,
      authority: host,
      responseCode: status,
      protocol: down.protocol,
    });
  };
  const reply = (status: number, flag: string, message: string): void => {
    if (flag) labels.response_flags = flag;
    down.refuse(status, { 'content-type': 'text/plain; charset=utf-8', ...(flag ? { [RESPONSE_FLAGS_HEADER]: flag } : {}) }, `${message}\n`);
    report(status);
  };

  if (req.protocol.toLowerCase() !== 'websocket') {
    reply(403, '', `upgrade "${req.protocol}" is not allowed`);
    return;
  }
  const chain = outboundChain(ctx);
  const view: RequestView = { method: req.method, path, authority: host, scheme: 'http', headers: req.headers };
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
    if (down.destroyed()) return;
    if (local) {
      reply(local.status, [...freq.flags.filter((f) => f !== local.flag), local.flag].filter((f) => f !== '').join(','), local.body);
      return;
    }
    if (freq.flags.length > 0) labels.response_flags = freq.flags.join(',');
    const cluster = decision.cluster;
    if (!cluster) return;
    const rewritten = upstreamRequest(decision.route, cluster, { method: 'GET', path, authority: host, headers: req.headers, body: undefined });
    tunnel(ctx, h2, down, head, rewritten.path, rewritten.headers, cluster.name, labels, {
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
  down: UpgradeDownstream,
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
    const app = down.accept(upgradeResponseHeaders(upstreamHead, [PEER_METADATA_HEADER]));
    if (head.length > 0) upstream.write(head);
    splice(
      app,
      upstream,
      (cleanly, bytes) => {
        if (!cleanly) labels.response_flags = 'UC';
        picked.release();
        report(101, bytes);
      },
      () => down.reset(),
    );
  };
  const failed = (flag: 'UF' | 'UR', message: string): void => {
    picked.report(flag === 'UF' ? { kind: 'connect-failure' } : { kind: 'reset' });
    picked.release();
    reply(503, flag, message);
  };
  /**
   * The upstream declined the upgrade (any answer but 101 / a CONNECT 200): its response, body
   * included (bounded), is relayed and the app's connection ends; nothing becomes a tunnel
   * (attack case 14). `fromMesh`: the answer came from a peer sidecar, whose internal headers are trusted.
   */
  const refused = (status: number, headers: http.IncomingHttpHeaders, body: Readable, fromMesh: boolean): void => {
    picked.report({ kind: 'response', status });
    picked.release();
    void readDeclinedBody(body).then((bytes) => {
      if (down.destroyed()) return;
      down.refuse(status, upgradeResponseHeaders(headers, [PEER_METADATA_HEADER, UPGRADE_DECLINED_HEADER], !fromMesh), bytes);
      report(status);
    });
  };

  // Plaintext to a mesh workload (tls DISABLE): the tunnel goes over h2c to its sidecar.
  const plaintextMesh = !mtls && cluster !== undefined && cluster.tls?.origination === undefined && ep.inboundPort !== undefined;
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
        cluster?.tls ? { host: ep.address.host, port, sni: ep.sni ?? cluster.tls.sni, alpn: cluster.tls.alpn, ...serverIdentity(ctx, cluster) } : { host: ep.address.host, port, sni: '', alpn: [], plaintext: true },
        headers,
        cluster?.connectTimeoutMs ?? 5000,
      )
      .then((r) => {
        if (down.destroyed()) {
          if (r.ok && r.value.kind === 'tunnel') r.value.tunnel.stream.destroy();
          picked.release();
          return;
        }
        if (!r.ok) failed(r.errors.flag === 'UF' ? 'UF' : 'UR', r.errors.message);
        else if (r.value.kind === 'refused') refused(r.value.status, r.value.headers, r.value.body, mtls);
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
  up.once('response', (res) => refused(res.statusCode ?? 502, res.headers, res, false));
  up.once('timeout', () => up.destroy(new Error('connect timeout')));
  up.once('error', (e: Error) => failed('UF', e.message));
  up.end();
}
