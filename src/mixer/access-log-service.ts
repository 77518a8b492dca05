import type * as grpc from '@grpc/grpc-js';
import type { Registry } from '../common/prom.ts';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { parseNode, type ProxyNode } from '../xds/node.ts';
import { serviceClient } from '../xds/protos.ts';
import { parseAccessLogEntry } from './access-log-entry.ts';
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
  logger?: Logger;
}

/** A gRPC service ready for `server.addService(definition, implementation)`. */
export interface MixerService {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  stats(): MixerStats;
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
  const metrics = new MeshMetrics(opts.registry);
  const stats: MixerStats = { streamsOpened: 0, streamsActive: 0, entriesAccepted: 0, entriesMalformed: 0 };

  const count = (entries: unknown[], kind: 'http' | 'tcp', node: ProxyNode | undefined, streamLog: Logger): void => {
    for (const entry of entries) {
      const parsed = parseAccessLogEntry(entry, kind, node);
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
        if (http) count(http, 'http', node, streamLog);
        const tcp = entriesOf(msg, 'tcp_logs');
        if (tcp) count(tcp, 'tcp', node, streamLog);
      } catch (e: unknown) {
        streamLog.error({ err: errorMessage(e) }, 'access-log message handling failed');
      }
    });
    call.on('end', () => {
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
