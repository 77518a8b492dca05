import type { TcpConnectionEnd, TcpConnectionInfo, TcpConnectionObserver } from '../dataplane/tcp/index.ts';
import { BLACKHOLE_CLUSTER, parseOutboundClusterName, PASSTHROUGH_CLUSTER } from '../xds/naming.ts';
import type { ListenerContext } from './listener-context.ts';
import type { PeerMetadata } from './peer-metadata.ts';
import { serviceNameOf, type TcpLabels } from './telemetry.ts';

const UNKNOWN = 'unknown';

function blankTcpLabels(reporter: 'source' | 'destination'): TcpLabels {
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
    request_protocol: 'tcp',
    response_flags: '-',
    connection_security_policy: 'none',
  };
}

/**
 * Reports a closed connection twice from the same labels, as reportRequest does for HTTP: the
 * `istio_tcp_*` counters and one access-log entry (`tcp_logs`) with its response flags.
 */
function reportClosed(ctx: ListenerContext, labels: TcpLabels, end: TcpConnectionEnd): void {
  ctx.telemetry.tcpClosed(labels, end.receivedBytes, end.sentBytes);
  ctx.accessLogTcp({
    reporter: labels.reporter === 'destination' ? 'destination' : 'source',
    startTime: end.startTime,
    durationMs: end.durationMs,
    ...(end.downstreamRemote ? { downstreamRemote: end.downstreamRemote } : {}),
    ...(end.upstreamRemote ? { upstreamRemote: end.upstreamRemote } : {}),
    upstreamCluster: end.cluster,
    responseFlags: labels.response_flags,
    receivedBytes: end.receivedBytes,
    sentBytes: end.sentBytes,
    sourceWorkload: labels.source_workload,
    sourceNamespace: labels.source_workload_namespace,
    sourceCluster: labels.source_cluster,
    destinationService: labels.destination_service,
    destinationWorkload: labels.destination_workload,
    destinationCluster: labels.destination_cluster,
    connectionSecurityPolicy: labels.connection_security_policy,
  });
}

/** `ns/<namespace>` of a SPIFFE ID, or unknown. */
function namespaceOf(spiffeId: string | undefined): string {
  return /\/ns\/([^/]+)\//.exec(spiffeId ?? '')?.[1] ?? UNKNOWN;
}

/**
 * Istio's `istio_tcp_*` metrics of the outbound side (reporter `source`): the caller is this
 * sidecar's workload; the destination is the picked endpoint (its workload, namespace and
 * cluster from EDS metadata) and, over mesh mTLS, the server's verified SPIFFE ID. A captured
 * connection to a destination the mesh does not know has destination_service (and _name)
 * `PassthroughCluster` or `BlackHoleCluster`.
 */
export function sourceTcpObserver(ctx: ListenerContext): TcpConnectionObserver {
  const labelsOf = (info: TcpConnectionInfo, flags: string): TcpLabels => {
    const own = ctx.workload;
    const l = blankTcpLabels('source');
    l.source_workload = own.name;
    l.source_workload_namespace = own.namespace;
    l.source_principal = ctx.certificate().spiffeId;
    l.source_cluster = own.cluster;
    const host = parseOutboundClusterName(info.cluster)?.hostname;
    if (host !== undefined) {
      l.destination_service = host;
      l.destination_service_name = serviceNameOf(host);
    } else if (info.cluster === PASSTHROUGH_CLUSTER || info.cluster === BLACKHOLE_CLUSTER) {
      // As Istio: a destination the mesh does not know is named by the cluster that took it.
      l.destination_service = info.cluster;
      l.destination_service_name = info.cluster;
    }
    const e = info.endpoint;
    if (e?.workload) l.destination_workload = e.workload;
    if (e?.namespace) l.destination_workload_namespace = e.namespace;
    if (e?.cluster) l.destination_cluster = e.cluster;
    if (info.upstreamPeer !== undefined) {
      l.destination_principal = info.upstreamPeer;
      l.connection_security_policy = 'mutual_tls';
    }
    l.response_flags = flags;
    return l;
  };
  return {
    opened: (info) => ctx.telemetry.tcpOpened(labelsOf(info, '-')),
    closed: (end: TcpConnectionEnd) => reportClosed(ctx, labelsOf(end, end.flags), end),
  };
}

/** Who called the inbound side of a mesh TCP connection: its verified SPIFFE ID, and its metadata when it sent some. */
export interface TcpCaller {
  principal: string;
  metadata?: PeerMetadata;
  /** The service host the caller asked for (from its SNI). */
  service: string;
  /** A plaintext caller (PERMISSIVE): no principal, connection_security_policy `none`. */
  plaintext?: boolean;
}

/**
 * `istio_tcp_*` of the inbound side (reporter `destination`): the destination is this sidecar's
 * workload; the source is the caller's verified SPIFFE ID (its namespace from it), and its
 * workload and cluster when the caller sent its peer metadata.
 */
export function destinationTcpObserver(ctx: ListenerContext, caller: TcpCaller): TcpConnectionObserver {
  const labelsOf = (flags: string): TcpLabels => {
    const own = ctx.workload;
    const l = blankTcpLabels('destination');
    l.destination_workload = own.name;
    l.destination_workload_namespace = own.namespace;
    l.destination_principal = ctx.certificate().spiffeId;
    l.destination_cluster = own.cluster;
    l.destination_service = caller.service || UNKNOWN;
    l.destination_service_name = serviceNameOf(l.destination_service);
    if (caller.plaintext) {
      l.destination_principal = UNKNOWN;
      l.connection_security_policy = 'none';
      l.response_flags = flags;
      return l;
    }
    l.source_principal = caller.principal;
    l.source_workload_namespace = caller.metadata?.namespace || namespaceOf(caller.principal);
    if (caller.metadata?.workload) l.source_workload = caller.metadata.workload;
    if (caller.metadata?.cluster) l.source_cluster = caller.metadata.cluster;
    l.connection_security_policy = 'mutual_tls';
    l.response_flags = flags;
    return l;
  };
  return {
    opened: () => ctx.telemetry.tcpOpened(labelsOf('-')),
    closed: (end) => reportClosed(ctx, labelsOf(end.flags), end),
  };
}
