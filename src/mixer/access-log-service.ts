import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import { parseSpiffeId, spiffeIdFromCertificate, type WorkloadIdentity } from '../citadel/spiffe.ts';
import type { Registry } from '../common/prom.ts';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { parseNode, type ProxyNode } from '../xds/node.ts';
import { serviceClient } from '../xds/protos.ts';
import { parseAccessLogEntry } from './access-log-entry.ts';
import type { LabelLimits } from './label-limiter.ts';
import { MeshMetrics } from './mesh-metrics.ts';

/** Fully qualified name of Envoy's access-log service. */
export const ACCESS_LOG_SERVICE_NAME = 'envoy.service.accesslog.v3.AccessLogService';

/** Counters of one Mixer service since it was created. */
export interface MixerStats {
  streamsOpened: number;
  streamsActive: number;
  entriesAccepted: number;
  entriesMalformed: number;
}

/** Options of createMixerService. The registry receives Mixer's metrics (once per registry). */
export interface MixerServiceOptions {
  registry: Registry;
  /**
   * Requires a verified mesh client certificate on every stream (15012, TLS standalone Mixer):
   * a stream without one ends UNAUTHENTICATED, a node whose namespace or service account is not
   * the certificate's ends PERMISSION_DENIED, and an entry whose reporting side (source workload
   * for `reporter=source`, destination for `destination`) is in another namespace than the
   * certificate's is dropped and counted. Absent: plaintext Mixer, every reporter is believed.
   */
  peerIdentity?: { trustDomain: string };
  /** Bounds of metric label cardinality and value length (DEFAULT_LABEL_LIMITS). */
  labelLimits?: Partial<LabelLimits>;
  logger?: Logger;
}

/** A gRPC service ready for `server.addService(definition, implementation)`. */
export interface MixerService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  stats(): MixerStats;
}

/**
 * The namespace of the workload an entry reports for, its own side of the call: `source_namespace`
 * for a source reporter; for a destination reporter, the namespace of `destination_service`
 * (`<name>.<namespace>.svc.<domain>`).
 */
function reportingNamespace(e: { reporter: 'source' | 'destination'; sourceNamespace: string; destinationService: string }): string | undefined {
  return e.reporter === 'source' ? e.sourceNamespace : e.destinationService.split('.')[1];
}

/** The SPIFFE identity of a verified peer certificate (grpc-js shows one only once its chain verified). */
function verifiedPeerIdentity(auth: { transportSecurityType?: string; sslPeerCertificate?: { raw: Buffer } }): WorkloadIdentity | undefined {
  const raw = auth.transportSecurityType === 'ssl' ? auth.sslPeerCertificate?.raw : undefined;
  if (!raw) return undefined;
  try {
    const id = spiffeIdFromCertificate(new X509Certificate(raw));
    if (!id.ok) return undefined;
    const parsed = parseSpiffeId(id.value);
    return parsed.ok ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `log_entry` array of `http_logs` or `tcp_logs`, or undefined when absent or not an array. */
function entriesOf(msg: Record<string, unknown>, key: 'http_logs' | 'tcp_logs'): unknown[] | undefined {
  const group = msg[key];
  if (!isRecord(group)) return undefined;
  const list = group['log_entry'];
  return Array.isArray(list) ? list : undefined;
}

/**
 * Builds Mixer's access-log sink (`StreamAccessLogs`, client streaming). Per stream: the first
 * message's `identifier.node` names the reporting proxy for the whole stream; every HTTP or TCP
 * entry is validated and counted into mesh-wide metrics, malformed ones are counted and skipped.
 * A stream never fails because of its content; it ends with an empty response when the client
 * half-closes, and a client that disconnects only decrements the active-stream gauge.
 */
export function createMixerService(opts: MixerServiceOptions): MixerService {
  const log = opts.logger ?? createLogger('mixer');
  const metrics = new MeshMetrics(opts.registry, opts.labelLimits);
  const stats: MixerStats = { streamsOpened: 0, streamsActive: 0, entriesAccepted: 0, entriesMalformed: 0 };

  const count = (entries: unknown[], kind: 'http' | 'tcp', node: ProxyNode | undefined, streamLog: Logger, peer: WorkloadIdentity | undefined): void => {
    for (const entry of entries) {
      const parsed = parseAccessLogEntry(entry, kind, node);
      if (parsed.ok && peer && reportingNamespace(parsed.value) !== peer.namespace) {
        metrics.identityMismatch();
        streamLog.debug({ reporter: parsed.value.reporter }, 'access-log entry for another identity dropped');
        continue;
      }
      if (parsed.ok) {
        metrics.record(parsed.value);
        stats.entriesAccepted += 1;
      } else {
        metrics.malformed();
        stats.entriesMalformed += 1;
        streamLog.debug({ errors: parsed.errors }, 'malformed access-log entry skipped');
      }
    }
  };

  const StreamAccessLogs = (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>): void => {
    let node: ProxyNode | undefined;
    let streamLog = log.child({ peer: call.getPeer() });
    let peer: WorkloadIdentity | undefined;
    if (opts.peerIdentity) {
      const id = verifiedPeerIdentity(call.getAuthContext());
      if (!id || id.trustDomain !== opts.peerIdentity.trustDomain) {
        metrics.streamRefused('unauthenticated');
        callback({ code: grpcStatus.UNAUTHENTICATED, details: 'access logs require a verified mesh client certificate' });
        return;
      }
      peer = id;
    }
    let first = true;
    let closed = false;
    stats.streamsOpened += 1;
    stats.streamsActive += 1;
    metrics.streamOpened();
    const finish = (): void => {
      if (closed) return;
      closed = true;
      stats.streamsActive -= 1;
      metrics.streamClosed();
    };

    call.on('data', (msg: unknown) => {
      try {
        if (!isRecord(msg)) return;
        const identifier = msg['identifier'];
        if (isRecord(identifier) && identifier['node'] !== undefined) {
          const raw = identifier['node'];
          const parsed = parseNode(raw);
          if (parsed.ok && peer && (parsed.value.namespace !== peer.namespace || parsed.value.serviceAccount !== peer.serviceAccount)) {
            metrics.streamRefused('identity_mismatch');
            closed = true;
            stats.streamsActive -= 1;
            metrics.streamClosed();
            callback({ code: grpcStatus.PERMISSION_DENIED, details: `node ${parsed.value.id} is not the certificate's identity` });
            return;
          }
          if (parsed.ok) {
            node = parsed.value;
            streamLog = streamLog.child({ node: node.id });
          } else if (first) {
            streamLog.warn({ errors: parsed.errors }, 'access-log stream with an unusable node');
          }
        } else if (first) {
          streamLog.warn('access-log stream without identifier.node on its first message');
        }
        first = false;
        const http = entriesOf(msg, 'http_logs');
        if (closed) return;
        if (http) count(http, 'http', node, streamLog, peer);
        const tcp = entriesOf(msg, 'tcp_logs');
        if (tcp) count(tcp, 'tcp', node, streamLog, peer);
      } catch (e: unknown) {
        streamLog.error({ err: errorMessage(e) }, 'access-log message handling failed');
      }
    });
    call.on('end', () => {
      if (closed) return;
      finish();
      callback(null, {});
    });
    call.on('error', (e: unknown) => {
      streamLog.debug({ err: errorMessage(e) }, 'access-log stream error');
      finish();
    });
    call.on('cancelled', finish);
    call.on('close', finish);
  };

  return {
    definition: serviceClient(ACCESS_LOG_SERVICE_NAME).service,
    implementation: { StreamAccessLogs },
    stats: () => ({ ...stats }),
  };
}
