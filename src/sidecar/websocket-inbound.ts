import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { routeRequest } from '../dataplane/http/route-table.ts';
import type { HttpFilterChain, RouteTable } from '../xds/config-types.ts';
import { blankLabels, type ListenerContext, RESPONSE_FLAGS_HEADER, reportRequest, UNKNOWN } from './listener-context.ts';
import type { PeerIdentity } from './peer-identity.ts';
import { PEER_METADATA_HEADER, takePeerMetadata } from './peer-metadata.ts';
import { serviceNameOf } from './telemetry.ts';
import { splice, UPGRADE_DECLINED_HEADER, upgradeResponseHeaders } from './websocket-tunnel.ts';

/**
 * WebSocket on the inbound listener: an RFC 8441 extended CONNECT stream (`:protocol websocket`)
 * from another sidecar becomes an HTTP/1.1 `Upgrade: websocket` request to the app (Envoy's
 * H2→H1 upgrade conversion). The chain must accept extended CONNECT (`allow_connect`) and enable
 * websocket (`upgrade_configs`, a route entry overriding it), else 403. The app's 101 becomes 200
 * on the stream, with its end-to-end headers (Sec-WebSocket-Accept, subprotocol) and our peer
 * metadata; then the stream and the app's socket are spliced. Any other answer is relayed with
 * its status. The caller has resolved the connection's chain and route table, and its peer;
 * `editHeaders` sets XFCC on the app request. One istio_requests_total sample (reporter
 * destination) per upgrade, when it ends.
 */
export function handleInboundUpgrade(
  ctx: ListenerContext,
  req: http2.Http2ServerRequest,
  chain: HttpFilterChain | undefined,
  table: RouteTable | undefined,
  conn: { peer: PeerIdentity | undefined; service: string | undefined },
  editHeaders: (headers: http.OutgoingHttpHeaders) => void,
): void {
  const startTime = new Date();
  const started = performance.now();
  const stream = req.stream;
  const authority = String(req.headers[':authority'] ?? '').toLowerCase();
  const path = String(req.headers[':path'] ?? '/');
  const labels = blankLabels('destination');
  labels.destination_workload = ctx.workload.name;
  labels.destination_workload_namespace = ctx.workload.namespace;
  labels.destination_principal = ctx.certificate().spiffeId;
  labels.destination_cluster = ctx.workload.cluster;
  labels.destination_service = conn.service ?? UNKNOWN;
  labels.destination_service_name = serviceNameOf(labels.destination_service);
  labels.source_principal = conn.peer?.spiffeId ?? UNKNOWN;
  labels.connection_security_policy = conn.peer ? 'mutual_tls' : 'none';
  const source = takePeerMetadata(req.headers);
  if (source) {
    labels.source_workload = source.workload || UNKNOWN;
    labels.source_workload_namespace = source.namespace || UNKNOWN;
    labels.source_cluster = source.cluster || UNKNOWN;
  }
  let upstreamCluster = '';
  let upstreamRemote: { host: string; port: number } | undefined;
  let reported = false;
  const report = (status: number, flag: string, bytes: { up: number; down: number }): void => {
    if (reported) return;
    reported = true;
    if (flag) labels.response_flags = flag;
    const remote = stream.session?.socket;
    reportRequest(ctx, labels, {
      reporter: 'destination',
      startTime,
      durationMs: performance.now() - started,
      requestBytes: bytes.up,
      responseBytes: bytes.down,
      downstreamRemote: remote?.remoteAddress ? { host: remote.remoteAddress, port: remote.remotePort ?? 0 } : undefined,
      upstreamRemote,
      upstreamCluster,
      method: 'CONNECT',
      path,
      authority,
      responseCode: status,
      protocol: 'HTTP2',
    });
  };
  const hooks = {
    upstream: (cluster: string, remote: { host: string; port: number }): void => {
      upstreamCluster = cluster;
      upstreamRemote = remote;
    },
    report,
  };
  const local = (status: number, flag: string, message: string): void => {
    if (!stream.destroyed && !stream.headersSent) {
      const body = `${message}\n`;
      stream.respond({ ':status': status, 'content-type': 'text/plain; charset=utf-8', [PEER_METADATA_HEADER]: ctx.peerMetadata, ...(flag ? { [RESPONSE_FLAGS_HEADER]: flag } : {}) });
      stream.end(body);
    }
    hooks.report(status, flag, { up: 0, down: 0 });
  };
  if (req.headers[':protocol'] !== 'websocket' || !chain?.allowConnect) {
    local(403, '', 'CONNECT is not allowed here');
    return;
  }
  const decision = routeRequest(table, { method: 'GET', path, authority, scheme: 'https', headers: req.headers }, ctx.random);
  if (decision.ok && decision.route.directResponse) {
    // A host this workload does not serve: Pilot's catch-all answers 421, and the app never sees the upgrade.
    local(decision.route.directResponse.status, '', decision.route.directResponse.body ?? '');
    return;
  }
  if (!decision.ok || !decision.cluster) {
    local(404, 'NR', `no inbound route for "${authority}"`);
    return;
  }
  if (!(decision.route.websocket ?? chain.websocket ?? false)) {
    local(403, '', 'websocket upgrades are not enabled for this route');
    return;
  }
  const picked = ctx.clusters.pick(decision.cluster.name, {});
  if (!picked.ok) {
    local(picked.status, picked.flag, picked.message);
    return;
  }
  const app = picked.endpoint.address;
  hooks.upstream(decision.cluster.name, { ...app });
  const headers: http.OutgoingHttpHeaders = {};
  for (const name in req.headers) {
    const v = req.headers[name];
    if (v !== undefined && !name.startsWith(':') && name !== PEER_METADATA_HEADER) headers[name] = v;
  }
  headers['host'] = authority;
  headers['connection'] = 'Upgrade';
  headers['upgrade'] = 'websocket';
  editHeaders(headers);
  const up = http.request({ host: app.host, port: app.port, method: 'GET', path, headers, agent: false, ...(ctx.inboundSourceAddress !== undefined ? { localAddress: ctx.inboundSourceAddress } : {}) });
  up.once('upgrade', (appRes: http.IncomingMessage, appSocket: Duplex, appHead: Buffer) => {
    picked.report({ kind: 'response', status: 101 });
    if (stream.destroyed) {
      appSocket.destroy();
      picked.release();
      return;
    }
    stream.respond({ ...upgradeResponseHeaders(appRes.headers, [PEER_METADATA_HEADER], true), ':status': 200, [PEER_METADATA_HEADER]: ctx.peerMetadata });
    if (appHead.length > 0) appSocket.unshift(appHead);
    // The app is this hop's upstream: its abrupt close is what resets the tunnel (UC).
    splice(
      stream,
      appSocket,
      (cleanly, bytes) => {
        picked.release();
        hooks.report(200, cleanly ? '' : 'UC', { up: bytes.up, down: bytes.down });
      },
      // RFC 9113 §8.5: a failed TCP connection behind a CONNECT stream resets it with CONNECT_ERROR.
      () => {
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CONNECT_ERROR);
      },
    );
  });
  up.once('response', (appRes: http.IncomingMessage) => {
    picked.report({ kind: 'response', status: appRes.statusCode ?? 502 });
    picked.release();
    if (stream.destroyed) {
      appRes.destroy();
      return;
    }
    const status = appRes.statusCode ?? 502;
    // The app declined the upgrade: its answer is relayed as a response, never as a tunnel.
    stream.respond({
      ...upgradeResponseHeaders(appRes.headers, [PEER_METADATA_HEADER], true),
      ':status': status,
      [PEER_METADATA_HEADER]: ctx.peerMetadata,
      ...(status >= 200 && status < 300 ? { [UPGRADE_DECLINED_HEADER]: '1' } : {}),
    });
    appRes.pipe(stream);
    appRes.once('end', () => hooks.report(appRes.statusCode ?? 502, '', { up: 0, down: 0 }));
  });
  up.once('error', (e: Error) => {
    picked.report({ kind: 'connect-failure' });
    picked.release();
    local(503, 'UF', e.message);
  });
  stream.once('close', () => {
    if (!up.writableEnded) up.destroy();
  });
  up.end();
}
