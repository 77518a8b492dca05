import type http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { SidecarOptionsError } from './errors.ts';
import { framingRefused } from './http1-framing.ts';

/**
 * Bounds of every downstream listener of a sidecar (virtualOutbound :15001, virtualInbound
 * :15006): Envoy's connection-manager timeouts and limits, in Node. Each default names the Envoy
 * (or Node) default it follows. Validated once by `validateListenerBounds`, then frozen.
 */
export interface ListenerBounds {
  /**
   * Time for a request's headers to arrive (HTTP/1.1), else 408 and close. Envoy's
   * `request_headers_timeout` is off by default; Node's own default (60 s) is kept.
   */
  headersTimeoutMs: number;
  /** Time for a whole HTTP/1.1 request to arrive; 0: none (Envoy's `request_timeout` default). */
  requestTimeoutMs: number;
  /**
   * A downstream connection with no request in flight is closed after this long (HTTP/1.1
   * keep-alive, HTTP/2 session with GOAWAY): Envoy's `common_http_protocol_options.idle_timeout`,
   * default 1 h.
   */
  idleTimeoutMs: number;
  /** An HTTP/2 stream with no activity is reset after this long: Envoy's `stream_idle_timeout`, 5 min. */
  streamIdleTimeoutMs: number;
  /**
   * Open downstream connections per listener; the next one is refused (closed at accept).
   * Envoy sets no per-listener limit by default; 1,048,576 is a bound high enough never to bite
   * in normal use, as Envoy's overload manager `global_downstream_max_connections` is used.
   */
  maxConnections: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS of HTTP/2 sessions. Envoy's default is 2^31-1; Istio's sidecars run with 1024 upstream, we use 1024. */
  maxConcurrentStreams: number;
  /**
   * Rapid reset (CVE-2023-44487): once this many streams of a session have closed, a session
   * where at least half were reset within `prematureResetMinStreamLifetimeMs` of opening, before
   * any response started, gets GOAWAY and is closed. Envoy's `overload.premature_reset_total_stream_count` (500).
   */
  prematureResetTotalStreamCount: number;
  /** Envoy's `overload.premature_reset_min_stream_lifetime_seconds` (1 s). */
  prematureResetMinStreamLifetimeMs: number;
  /**
   * Memory an HTTP/2 session may hold in queued outbound frames and buffers before it is closed
   * (Node's `maxSessionMemory`, default 10 MB): bounds a peer that floods PING/SETTINGS and never reads.
   */
  maxSessionMemoryMb: number;
  /** Entries a peer's SETTINGS frame may carry (Node's `maxSettings`, default 32). */
  maxSettings: number;
  /** How often HTTP/1.1 header and request timeouts are checked (Node's `connectionsCheckingInterval`, 30 s). */
  timeoutCheckIntervalMs: number;
}

/** The defaults; see each field of ListenerBounds for where they come from. */
export const DEFAULT_LISTENER_BOUNDS: Readonly<ListenerBounds> = Object.freeze({
  headersTimeoutMs: 60_000,
  requestTimeoutMs: 0,
  idleTimeoutMs: 3_600_000,
  streamIdleTimeoutMs: 300_000,
  maxConnections: 1_048_576,
  maxConcurrentStreams: 1024,
  prematureResetTotalStreamCount: 500,
  prematureResetMinStreamLifetimeMs: 1000,
  maxSessionMemoryMb: 10,
  maxSettings: 32,
  timeoutCheckIntervalMs: 30_000,
});

const POSITIVE: readonly (keyof ListenerBounds)[] = [
  'headersTimeoutMs',
  'idleTimeoutMs',
  'streamIdleTimeoutMs',
  'maxConnections',
  'maxConcurrentStreams',
  'prematureResetTotalStreamCount',
  'prematureResetMinStreamLifetimeMs',
  'maxSessionMemoryMb',
  'maxSettings',
  'timeoutCheckIntervalMs',
];

/**
 * Fills in defaults and validates: every field a positive integer (`requestTimeoutMs` may be 0),
 * and `headersTimeoutMs` not above a non-zero `requestTimeoutMs` (Node refuses that). Throws
 * SidecarOptionsError naming the field (`invalid bounds.idleTimeoutMs`). Unknown fields are refused.
 */
export function validateListenerBounds(input: Partial<ListenerBounds> | undefined): Readonly<ListenerBounds> {
  const b: ListenerBounds = { ...DEFAULT_LISTENER_BOUNDS };
  for (const [key, value] of Object.entries(input ?? {})) {
    if (!(key in DEFAULT_LISTENER_BOUNDS)) throw new SidecarOptionsError(`bounds.${key}: is not supported`);
    if (value === undefined) continue;
    const k = key as keyof ListenerBounds;
    const min = POSITIVE.includes(k) ? 1 : 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new SidecarOptionsError(`invalid bounds.${key}`);
    b[k] = value;
  }
  if (b.requestTimeoutMs > 0 && b.headersTimeoutMs > b.requestTimeoutMs) throw new SidecarOptionsError('invalid bounds.headersTimeoutMs: above bounds.requestTimeoutMs');
  if (b.maxConcurrentStreams > 2 ** 31 - 1) throw new SidecarOptionsError('invalid bounds.maxConcurrentStreams');
  return Object.freeze(b);
}

/** The HTTP/2 server options that carry the bounds (spread into createServer/createSecureServer). */
export function h2ServerBoundsOptions(b: Readonly<ListenerBounds>): Pick<http2.ServerOptions, 'maxSessionMemory' | 'maxSettings'> & {
  settings: { maxConcurrentStreams: number };
} {
  return {
    maxSessionMemory: b.maxSessionMemoryMb,
    maxSettings: b.maxSettings,
    settings: { maxConcurrentStreams: b.maxConcurrentStreams },
  };
}

/** Counts one refusal by its Envoy stat name (relative to the listener's stat prefix). */
export type BoundsStat = (name: string) => void;

/**
 * Envoy stat names of the refusals, relative to `http.<prefix>.` / `listener.<prefix>.`.
 * `downstream_cx_overflow` (connection refused at maxConnections), `downstream_rq_timeout`
 * (headers/request timeout, 408), `downstream_cx_idle_timeout`, `downstream_rq_idle_timeout`
 * (h2 stream idle), `downstream_rq_too_many_premature_resets` (rapid reset), and
 * `http2.rx_reset` (streams that ended in RST_STREAM; Node does not tell who sent it, so resets
 * the proxy sends in answer count too), `downstream_cx_protocol_error` (a request the HTTP/1.1
 * parser or the framing checks refused with 400).
 */
export const BOUNDS_STATS = {
  cxOverflow: 'downstream_cx_overflow',
  rqTimeout: 'downstream_rq_timeout',
  cxIdleTimeout: 'downstream_cx_idle_timeout',
  rqIdleTimeout: 'downstream_rq_idle_timeout',
  prematureResets: 'downstream_rq_too_many_premature_resets',
  rxReset: 'http2.rx_reset',
  sessionError: 'http2.session_error',
  protocolError: 'downstream_cx_protocol_error',
} as const;

/**
 * Applies the connection limit to any listening server (net, tls, http, http2): Node closes
 * the connection past `maxConnections` at accept and emits 'drop', counted here. Connections
 * already open are untouched.
 */
export function applyConnectionLimit(server: net.Server, b: Readonly<ListenerBounds>, stat: BoundsStat): void {
  server.maxConnections = b.maxConnections;
  server.on('drop', () => stat(BOUNDS_STATS.cxOverflow));
}

/**
 * Applies header, request and idle timeouts to an HTTP/1.1 server. Sets `headersTimeout`
 * explicitly: a server created with `requestTimeout: 0` would otherwise keep no header bound
 * worth the name (issue 8). Requests timed out get Node's 408 and the connection is closed;
 * each is counted as `downstream_rq_timeout`. Call before `listen`.
 */
export function applyHttp1Bounds(server: http.Server, b: Readonly<ListenerBounds>, stat: BoundsStat): void {
  server.headersTimeout = b.headersTimeoutMs;
  server.requestTimeout = b.requestTimeoutMs;
  server.keepAliveTimeout = b.idleTimeoutMs;
  // Read by Node when the server starts listening (not a public property on all versions' types).
  (server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = b.timeoutCheckIntervalMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
    // As Node's own handler: no reply of ours once a response has started on this connection.
    const started = (socket as unknown as { _httpMessage?: http.ServerResponse | null })._httpMessage?.headersSent === true;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      stat(BOUNDS_STATS.rqTimeout);
      if (socket.writable && !started) socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroySoon();
      return;
    }
    // Node's own answer to a request it cannot parse: 400 and close, never reaching the handler.
    if (err.code !== 'ECONNRESET' && !framingRefused(socket)) stat(BOUNDS_STATS.protocolError);
    if (socket.writable && !started && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    socket.destroy();
  });
}

/**
 * Applies session idle, stream idle and premature-reset bounds to every HTTP/2 session of
 * `server` (a plaintext or TLS HTTP/2 server). Called once per server, before it accepts.
 * A session idle for `idleTimeoutMs` gets GOAWAY (NO_ERROR) and closes once its streams are done;
 * a stream idle for `streamIdleTimeoutMs` is reset with CANCEL. Session errors (Node's flood and
 * memory limits among them) close the session and are counted, never thrown.
 */
export function applyH2Bounds(server: http2.Http2Server | http2.Http2SecureServer, b: Readonly<ListenerBounds>, stat: BoundsStat): void {
  server.on('session', (session: http2.ServerHttp2Session) => {
    let closedStreams = 0;
    let prematureResets = 0;
    let tripped = false;
    session.setTimeout(b.idleTimeoutMs, () => {
      stat(BOUNDS_STATS.cxIdleTimeout);
      if (!session.closed) session.close();
      const t = setTimeout(() => session.destroy(), b.streamIdleTimeoutMs);
      t.unref();
    });
    session.on('error', () => stat(BOUNDS_STATS.sessionError));
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      const opened = performance.now();
      stream.setTimeout(b.streamIdleTimeoutMs, () => {
        stat(BOUNDS_STATS.rqIdleTimeout);
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
      });
      stream.once('close', () => {
        closedStreams += 1;
        const reset = stream.rstCode !== undefined && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR;
        if (reset) stat(BOUNDS_STATS.rxReset);
        // As Envoy's isPrematureRstStream: a reset (the client's, or ours in answer to it) before
        // the minimum lifetime counts only if no response had started. A client aborting a
        // response already flowing is no attack; counting it would let many clients' ordinary
        // aborts, proxied over one mesh session, get that session closed (attack case 13).
        if (reset && !stream.headersSent && performance.now() - opened < b.prematureResetMinStreamLifetimeMs) prematureResets += 1;
        if (!tripped && closedStreams >= b.prematureResetTotalStreamCount && prematureResets * 2 >= closedStreams && !session.destroyed) {
          tripped = true;
          stat(BOUNDS_STATS.prematureResets);
          // No new streams; the ones in flight (on a mesh session, other clients' too) may finish.
          session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
          session.close();
          const t = setTimeout(() => session.destroy(), b.streamIdleTimeoutMs);
          t.unref();
        }
      });
    });
  });
}
