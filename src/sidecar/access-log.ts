import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { type NodeIdentityInput, nodeMessage } from '../xds/node.ts';
import { serviceClient } from '../xds/protos.ts';
import { MESH_ATTRIBUTES_NAMESPACE, meshAttributesStruct } from '../xds/mesh-attributes.ts';

/**
 * Streams HTTP access logs to Mixer over Envoy's ALS (`AccessLogService/StreamAccessLogs`).
 * Contract: `log()` never blocks and never throws. Entries are batched (every `flushIntervalMs`,
 * or as soon as `batchSize` are waiting) into a bounded buffer; when Mixer is unreachable the
 * buffer fills and further entries are dropped and counted (`dropped`). The stream identifier
 * (node, log name `meshfed`) is sent on the first message of each stream, as Envoy does.
 */

/** One finished request as the listeners describe it. */
export interface AccessLogRecord {
  reporter: 'source' | 'destination';
  startTime: Date;
  durationMs: number;
  downstreamRemote?: { host: string; port: number };
  upstreamRemote?: { host: string; port: number };
  upstreamCluster: string;
  method: string;
  path: string;
  authority: string;
  responseCode: number;
  /** Envoy-style flags, `-` for none. */
  responseFlags: string;
  /** Why the upstream connection failed (UF), as Envoy's `upstream_transport_failure_reason`. */
  upstreamTransportFailureReason?: string;
  protocol: 'HTTP11' | 'HTTP2';
  /** The grpc-status of a gRPC response (trailers, or headers when trailers-only). */
  grpcStatus?: string;
  sourceWorkload: string;
  sourceNamespace: string;
  sourceCluster: string;
  destinationService: string;
  destinationWorkload: string;
  destinationCluster: string;
  connectionSecurityPolicy: string;
}

/** One finished TCP connection (Envoy's TCPAccessLogEntry), one per proxied connection. */
export interface TcpAccessLogRecord {
  reporter: 'source' | 'destination';
  startTime: Date;
  durationMs: number;
  downstreamRemote?: { host: string; port: number };
  upstreamRemote?: { host: string; port: number };
  upstreamCluster: string;
  /** Envoy-style flags (UF, UH, UO, NC), `-` for none. */
  responseFlags: string;
  /** From the downstream. */
  receivedBytes: number;
  /** To the downstream. */
  sentBytes: number;
  sourceWorkload: string;
  sourceNamespace: string;
  sourceCluster: string;
  destinationService: string;
  destinationWorkload: string;
  destinationCluster: string;
  connectionSecurityPolicy: string;
}

/** Options of AccessLogStreamer. */
export interface AccessLogStreamerOptions {
  target: string;
  credentials: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  node: NodeIdentityInput;
  logger: Logger;
  flushIntervalMs?: number;
  batchSize?: number;
  maxBuffered?: number;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

function address(a: { host: string; port: number } | undefined): object | undefined {
  return a ? { socket_address: { address: a.host, port_value: a.port } } : undefined;
}

function duration(ms: number): { seconds: string; nanos: number } {
  const whole = Math.max(0, ms);
  return { seconds: String(Math.floor(whole / 1000)), nanos: Math.round((whole % 1000) * 1e6) };
}

/**
 * `common_properties.metadata` (the mesh attributes Struct) by attribute values: a sidecar reports
 * few distinct combinations, so each is built once and shared by the entries that carry it.
 */
const metadataByAttributes = new Map<string, object>();
const METADATA_MAX = 1024;

function metadataOf(r: AccessLogRecord | TcpAccessLogRecord): object {
  const key = [
    r.reporter,
    r.sourceWorkload,
    r.sourceNamespace,
    r.sourceCluster,
    r.destinationService,
    r.destinationWorkload,
    r.destinationCluster,
    r.connectionSecurityPolicy,
  ].join('\n');
  let metadata = metadataByAttributes.get(key);
  if (!metadata) {
    metadata = {
      filter_metadata: {
        [MESH_ATTRIBUTES_NAMESPACE]: meshAttributesStruct({
          reporter: r.reporter,
          sourceWorkload: r.sourceWorkload,
          sourceNamespace: r.sourceNamespace,
          sourceCluster: r.sourceCluster,
          destinationService: r.destinationService,
          destinationWorkload: r.destinationWorkload,
          destinationCluster: r.destinationCluster,
          connectionSecurityPolicy: r.connectionSecurityPolicy,
        }),
      },
    };
    if (metadataByAttributes.size >= METADATA_MAX) metadataByAttributes.clear();
    metadataByAttributes.set(key, metadata);
  }
  return metadata;
}

/**
 * Envoy's short response flags (`%RESPONSE_FLAGS%`, the `response_flags` metric label) and the
 * `envoy.data.accesslog.v3.ResponseFlags` field each one sets, for every flag meshfed's data
 * planes produce. A flag missing here would reach the metrics but not the access log.
 */
export const RESPONSE_FLAG_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  UH: 'no_healthy_upstream',
  UF: 'upstream_connection_failure',
  UO: 'upstream_overflow',
  NR: 'no_route_found',
  URX: 'upstream_retry_limit_exceeded',
  NC: 'no_cluster_found',
  DC: 'downstream_connection_termination',
  UR: 'upstream_remote_reset',
  UC: 'upstream_connection_termination',
  UT: 'upstream_request_timeout',
  DI: 'delay_injected',
  FI: 'fault_injected',
  RL: 'rate_limited',
});

/** The ResponseFlags proto object for a comma-separated flag list: only the flags that are set (proto3 omits false). */
export function responseFlagsProto(flags: readonly string[]): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const f of flags) {
    const field = RESPONSE_FLAG_FIELDS[f];
    if (field !== undefined) out[field] = true;
  }
  return out;
}

/** The `HTTPAccessLogEntry` proto object (proto field names) for one record. Pure. */
export function httpAccessLogEntry(r: AccessLogRecord): Record<string, unknown> {
  const start = r.startTime.getTime();
  const flags = r.responseFlags.split(',');
  return {
    common_properties: {
      downstream_remote_address: address(r.downstreamRemote),
      upstream_remote_address: address(r.upstreamRemote),
      upstream_cluster: r.upstreamCluster,
      start_time: { seconds: String(Math.floor(start / 1000)), nanos: (start % 1000) * 1e6 },
      time_to_last_downstream_tx_byte: duration(r.durationMs),
      response_flags: responseFlagsProto(flags),
      metadata: metadataOf(r),
      ...(r.upstreamTransportFailureReason ? { upstream_transport_failure_reason: r.upstreamTransportFailureReason } : {}),
    },
    protocol_version: r.protocol,
    request: {
      request_method: METHODS.has(r.method) ? r.method : 'METHOD_UNSPECIFIED',
      path: r.path,
      authority: r.authority,
    },
    // Envoy logs gRPC's status as the `grpc-status` response trailer (%GRPC_STATUS% in text logs).
    response: { response_code: { value: r.responseCode }, ...(r.grpcStatus ? { response_trailers: { 'grpc-status': r.grpcStatus } } : {}) },
  };
}

/** The `TCPAccessLogEntry` proto object for one connection. Pure. */
export function tcpAccessLogEntry(r: TcpAccessLogRecord): Record<string, unknown> {
  const start = r.startTime.getTime();
  const flags = r.responseFlags.split(',');
  return {
    common_properties: {
      downstream_remote_address: address(r.downstreamRemote),
      upstream_remote_address: address(r.upstreamRemote),
      upstream_cluster: r.upstreamCluster,
      start_time: { seconds: String(Math.floor(start / 1000)), nanos: (start % 1000) * 1e6 },
      time_to_last_downstream_tx_byte: duration(r.durationMs),
      response_flags: responseFlagsProto(flags),
      metadata: metadataOf(r),
    },
    connection_properties: { received_bytes: String(r.receivedBytes), sent_bytes: String(r.sentBytes) },
  };
}

export class AccessLogStreamer {
  readonly #opts: Required<Omit<AccessLogStreamerOptions, 'channelOptions'>> & { channelOptions: grpc.ChannelOptions };
  readonly #client: grpc.Client & Record<string, unknown>;
  readonly #timer: NodeJS.Timeout;
  #buffer: Record<string, unknown>[] = [];
  #tcpBuffer: Record<string, unknown>[] = [];
  #call: grpc.ClientWritableStream<unknown> | undefined;
  #closed = false;
  /** Entries dropped because the buffer was full. */
  dropped = 0;
  /** Entries written to a stream. */
  sent = 0;

  constructor(opts: AccessLogStreamerOptions) {
    this.#opts = { flushIntervalMs: 1000, batchSize: 100, maxBuffered: 10_000, channelOptions: {}, ...opts };
    const Ctor = serviceClient('envoy.service.accesslog.v3.AccessLogService');
    this.#client = new Ctor(opts.target, opts.credentials, this.#opts.channelOptions) as grpc.Client & Record<string, unknown>;
    this.#timer = setInterval(() => this.flush(), this.#opts.flushIntervalMs);
    this.#timer.unref();
  }

  /** Queues one record; drops it (and counts) when the buffer is full. */
  log(record: AccessLogRecord): void {
    if (this.#closed) return;
    if (this.#buffer.length >= this.#opts.maxBuffered) {
      this.dropped++;
      return;
    }
    this.#buffer.push(httpAccessLogEntry(record));
    if (this.#buffer.length >= this.#opts.batchSize) this.flush();
  }

  /** Queues one TCP connection's entry (same buffer limit, counted together). */
  logTcp(record: TcpAccessLogRecord): void {
    if (this.#closed) return;
    if (this.#buffer.length + this.#tcpBuffer.length >= this.#opts.maxBuffered) {
      this.dropped++;
      return;
    }
    this.#tcpBuffer.push(tcpAccessLogEntry(record));
    if (this.#tcpBuffer.length >= this.#opts.batchSize) this.flush();
  }

  /** Sends what is buffered if the channel is ready; otherwise keeps it (and asks to connect). */
  flush(): void {
    if (this.#closed || (this.#buffer.length === 0 && this.#tcpBuffer.length === 0)) return;
    const state = this.#client.getChannel().getConnectivityState(true);
    if (state !== grpc.connectivityState.READY) return;
    let identifier: object | undefined;
    if (!this.#call) {
      identifier = { node: nodeMessage(this.#opts.node), log_name: 'meshfed' };
      this.#call = this.#openStream();
    }
    // http_logs and tcp_logs are a oneof: each message carries one kind.
    for (const [key, buffer] of [
      ['http_logs', this.#buffer],
      ['tcp_logs', this.#tcpBuffer],
    ] as const) {
      while (buffer.length > 0) {
        const batch = buffer.splice(0, this.#opts.batchSize);
        const message: Record<string, unknown> = { [key]: { log_entry: batch } };
        if (identifier) {
          message['identifier'] = identifier;
          identifier = undefined;
        }
        this.#call.write(message);
        this.sent += batch.length;
      }
    }
  }

  #openStream(): grpc.ClientWritableStream<unknown> {
    const method = this.#client['StreamAccessLogs'] as (cb: (err: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<unknown>;
    const call = method.call(this.#client, (err: grpc.ServiceError | null) => {
      if (this.#call === call) this.#call = undefined;
      if (err && !this.#closed) this.#opts.logger.debug({ err: errorMessage(err) }, 'access log stream ended');
    });
    call.on('error', () => {
      if (this.#call === call) this.#call = undefined;
    });
    return call;
  }

  /** Flushes what it can, ends the stream and closes the channel. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    clearInterval(this.#timer);
    this.#call?.end();
    this.#call = undefined;
    this.#client.close();
  }
}
