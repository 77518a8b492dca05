import type { OverloadState } from '../dataplane/overload/index.ts';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '../common/log.ts';
import type { ClusterManager } from '../dataplane/cluster/index.ts';
import type { WorkloadSpec } from '../common/workload.ts';
import type { ProxyConfig, SocketAddr } from '../xds/config-types.ts';
import type { AccessLogRecord, TcpAccessLogRecord } from './access-log.ts';
import type { OriginalDstReader } from './capture/original-dst.ts';
import type { CertBundle } from './cert-source.ts';
import type { RequestLabels, SidecarTelemetry } from './telemetry.ts';

/** The workload a sidecar stands beside; admin, health and metrics bind on its `address`. */
export type LocalWorkload = Pick<WorkloadSpec, 'name' | 'namespace' | 'serviceAccount' | 'cluster' | 'address' | 'labels'>;

/**
 * What the listeners read from their data plane on every request. `config()` and `certificate()`
 * return the current values, so a config change or rotation applies to the next request without
 * touching requests in flight.
 */
export interface ListenerContext {
  workload: LocalWorkload;
  config(): ProxyConfig;
  certificate(): CertBundle;
  telemetry: SidecarTelemetry;
  /** Receives one record per finished request (the access log streamer, when Mixer is set). */
  accessLog(record: AccessLogRecord): void;
  /** Receives one record per finished TCP connection (the same streamer's `tcp_logs`). */
  accessLogTcp(record: TcpAccessLogRecord): void;
  /** The proxy's upstream clusters (load balancing, outlier detection, circuit breakers). */
  clusters: ClusterManager;
  random: () => number;
  logger: Logger;
  /** Our own `x-meshfed-peer-metadata` value. */
  peerMetadata: string;
  /**
   * Capture mode: the source address of inbound hops to the app (Istio's 127.0.0.6), which the
   * capture rules let through instead of redirecting them back to the sidecar. Absent: the
   * system picks the source, as without capture.
   */
  inboundSourceAddress?: string;
  /** Capture mode: reads a redirected connection's original destination (inbound passthrough). */
  originalDst?: OriginalDstReader;
  /**
   * Capture mode: the original destination of the app connection that virtualOutbound served as
   * HTTP, by that connection's remote address and port (one per open connection), so that a
   * request routed to an ORIGINAL_DST cluster (PassthroughCluster) goes where the app was going.
   */
  appOriginalDst?: (remoteAddress: string, remotePort: number) => SocketAddr | undefined;
  /** The overload manager (heap pressure): listeners shed new requests while it says so. */
  overload?: OverloadState;
}

/**
 * Sheds a new request while the overload manager's `stop_accepting_requests` is active: a local
 * 503 with flag `OL` and `x-envoy-overloaded: true`, as Envoy answers, counted as
 * `downstream_rq_overload_close`. True when it did (the caller does not route the request).
 */
export function shedIfOverloaded(
  ctx: ListenerContext,
  res: { writeHead(status: number, headers: OutgoingHttpHeaders): unknown; end(body: string): unknown },
  stat: (name: string) => void,
): boolean {
  if (ctx.overload?.shedRequests() !== true) return false;
  stat(OVERLOAD_CLOSE_STAT);
  writeLocalReply(res, 503, 'OL', 'envoy overloaded', { 'x-envoy-overloaded': 'true' });
  return true;
}

/** Envoy's counter of requests refused by the overload manager (connection manager prefix). */
export const OVERLOAD_CLOSE_STAT = 'downstream_rq_overload_close';
/** Envoy's counter of connections refused by the overload manager (listener prefix). */
export const OVERLOAD_REJECT_STAT = 'downstream_cx_overload_reject';

/** Response header carrying Envoy-style response flags on local replies and failures. */
export const RESPONSE_FLAGS_HEADER = 'x-meshfed-response-flags';
/** Default route timeout (Envoy's), when the route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export const UNKNOWN = 'unknown';

/** Labels with every field `unknown` and flags `-`, to be filled in by a listener. */
export function blankLabels(reporter: 'source' | 'destination'): RequestLabels {
  return {
    reporter,
    source_workload: UNKNOWN,
    source_workload_namespace: UNKNOWN,
    source_principal: UNKNOWN,
    source_cluster: UNKNOWN,
    destination_workload: UNKNOWN,
    destination_workload_namespace: UNKNOWN,
    destination_principal: UNKNOWN,
    destination_service: UNKNOWN,
    destination_service_name: UNKNOWN,
    destination_cluster: UNKNOWN,
    request_protocol: 'http',
    response_code: '0',
    response_flags: '-',
    connection_security_policy: 'none',
    // Istio's value for requests that are not gRPC: empty.
    grpc_response_status: '',
  };
}

/** What a listener knows of one finished request, beyond its labels. */
export interface FinishedRequest {
  reporter: 'source' | 'destination';
  startTime: Date;
  durationMs: number;
  requestBytes: number;
  responseBytes: number;
  downstreamRemote: { host: string; port: number } | undefined;
  upstreamRemote: { host: string; port: number } | undefined;
  upstreamCluster: string;
  method: string;
  path: string;
  authority: string;
  responseCode: number;
  protocol: AccessLogRecord['protocol'];
  /** The response's grpc-status (gRPC requests only). */
  grpcStatus?: string;
  /** Why the upstream connection failed, when it did (UF). */
  upstreamTransportFailureReason?: string;
}

/**
 * Records a finished request twice, from the same labels: in the sidecar's own metrics (15090),
 * and as an access-log entry for Mixer. `labels.response_code` is set from the request.
 */
export function reportRequest(ctx: ListenerContext, labels: RequestLabels, r: FinishedRequest): void {
  labels.response_code = String(r.responseCode);
  ctx.telemetry.record({ labels, durationMs: r.durationMs, requestBytes: r.requestBytes, responseBytes: r.responseBytes });
  ctx.accessLog({
    reporter: r.reporter,
    startTime: r.startTime,
    durationMs: r.durationMs,
    downstreamRemote: r.downstreamRemote,
    upstreamRemote: r.upstreamRemote,
    upstreamCluster: r.upstreamCluster,
    method: r.method,
    path: r.path,
    authority: r.authority,
    responseCode: r.responseCode,
    responseFlags: labels.response_flags,
    protocol: r.protocol,
    ...(r.grpcStatus ? { grpcStatus: r.grpcStatus } : {}),
    ...(r.upstreamTransportFailureReason ? { upstreamTransportFailureReason: r.upstreamTransportFailureReason } : {}),
    sourceWorkload: labels.source_workload,
    sourceNamespace: labels.source_workload_namespace,
    sourceCluster: labels.source_cluster,
    destinationService: labels.destination_service,
    destinationWorkload: labels.destination_workload,
    destinationCluster: labels.destination_cluster,
    connectionSecurityPolicy: labels.connection_security_policy,
  });
}

/**
 * Writes a proxy-generated reply (no route, no upstream, timeout, ...): a one-line text body and
 * the Envoy-style flag in RESPONSE_FLAGS_HEADER. Returns the body's length in bytes.
 */
export function writeLocalReply(
  res: { writeHead(status: number, headers: OutgoingHttpHeaders): unknown; end(body: string): unknown },
  status: number,
  flag: string,
  message: string,
  extraHeaders: OutgoingHttpHeaders = {},
): number {
  const body = `${message}\n`;
  const bytes = Buffer.byteLength(body);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': bytes, [RESPONSE_FLAGS_HEADER]: flag, ...extraHeaders });
  res.end(body);
  return bytes;
}
