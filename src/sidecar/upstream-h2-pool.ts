import http2 from 'node:http2';
import net from 'node:net';
import type tls from 'node:tls';
import type { TLSSocket } from 'node:tls';
import { errorCode, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { fail, ok, type Result } from '../common/result.ts';
import type { CertBundle } from './cert-source.ts';
import { UpstreamError } from './errors.ts';
import type { UriSanMatcher } from '../xds/config-types.ts';
import { meshServerIdentityCheck, type PeerIdentity, peerIdentityOfSocket } from './peer-identity.ts';
import type { UpstreamCall, UpstreamRequest, UpstreamResponse } from './upstream-interface.ts';
import { UPGRADE_DECLINED_HEADER } from './websocket-tunnel.ts';
import type { Readable } from 'node:stream';

/**
 * Pool of mesh mTLS HTTP/2 sessions, keyed by (dial address, SNI). Contract:
 * - a session is opened with the certificate current at dial time: TLS client cert = our bundle,
 *   `ca` = its roots, ALPN h2, SNI = the cluster's; the server's chain must reach the roots and its
 *   leaf must carry a well-formed SPIFFE ID (hostnames are not checked);
 * - a new request uses a session of its key with spare stream capacity (the server's
 *   SETTINGS_MAX_CONCURRENT_STREAMS) or opens another one;
 * - sessions leave the pool on close, error or GOAWAY (the next request reconnects);
 * - `retire()` (certificate rotation) takes every session out of the pool; each closes once its streams in flight
 *   finish, new requests open new sessions with the new material;
 * - a request with `maxRequestsPerConnection` takes its session out of the pool once the session
 *   has carried that many streams (it closes gracefully); with `idleTimeoutMs` a session with no
 *   stream in flight for that long is closed;
 * - a session that has sent `RESET_BUDGET` RST_STREAMs (callers aborting: downstream resets,
 *   timeouts) leaves the pool the same way, before the server's rapid-reset bound (nghttp2: a
 *   burst of 1,000, then 33/s) ends it with every stream on it.
 */

/** Where and how to dial. */
export interface H2Target {
  host: string;
  port: number;
  sni: string;
  alpn: string[];
  /**
   * Plaintext HTTP/2 (prior knowledge) to a mesh workload's inbound port, for clusters whose
   * DestinationRule sets `tls.mode: DISABLE`; the destination sidecar detects it (PERMISSIVE).
   */
  plaintext?: boolean;
  /**
   * TLS the sidecar originates toward a non-mesh server (DestinationRule tls SIMPLE / MUTUAL on a
   * cluster with `http2_protocol_options`): these options (origination-tls.ts: SNI, roots, client
   * certificate, SAN check) replace the mesh certificate, ALPN is `h2`, and no SPIFFE ID is
   * required of the server. Sessions are pooled per options object, so a pushed change of
   * material opens new sessions.
   */
  origination?: tls.ConnectionOptions;
  /** Plaintext only: the source address (a capture sidecar's inbound hops to its app: 127.0.0.6). */
  localAddress?: string;
  /**
   * Mesh mTLS only: the SPIFFE IDs the server may carry (the cluster's `serverSans`); absent or
   * empty, any mesh identity. Part of the pool key, so a pushed change opens new sessions.
   */
  serverSans?: readonly UriSanMatcher[];
  /** Runs once per handshake refused for its SPIFFE ID (the cluster's `ssl.fail_verify_san`). */
  onSanMismatch?: () => void;
}

interface PooledSession {
  session: http2.ClientHttp2Session;
  connected: boolean;
  active: number;
  /** Streams opened on this session. */
  served: number;
  /** RST_STREAMs this end sent (`abort()`, a failed request body). */
  resetsSent: number;
  /** Out of the pool (maxRequestsPerConnection or the reset budget reached): closes once its last stream ends. */
  retiring?: boolean;
  idleTimer?: NodeJS.Timeout;
  peer?: PeerIdentity;
  /** The server's first SETTINGS frame arrived (extended CONNECT needs SETTINGS_ENABLE_CONNECT_PROTOCOL). */
  settings: Promise<void>;
}

/** An RFC 8441 tunnel the server accepted (`:status` 200): its stream carries the upgraded bytes. */
export interface H2Tunnel {
  stream: http2.ClientHttp2Stream;
  headers: http2.IncomingHttpHeaders;
  peer?: PeerIdentity;
}

const DEFAULT_MAX_STREAMS = 100;
/**
 * RST_STREAMs one session may send before it is replaced: half of nghttp2's default burst (1,000),
 * the bound a Node or Envoy server applies to a session (CVE-2023-44487). Counting all resets
 * since the session opened, not a refilling bucket, keeps this below the server's bound at any
 * rate; the price is one handshake per 500 aborted streams.
 */
export const RESET_BUDGET = 500;
/**
 * Connection-level receive window of mesh HTTP/2 sessions, set by both ends (this pool and the
 * inbound listener). With Node's default (64 KiB) the receiver sends a WINDOW_UPDATE, a TLS record
 * and write of its own, every ~32 KiB received: every few dozen small responses. Streams keep
 * their default window.
 */
export const MESH_CONNECTION_WINDOW_BYTES = 1 << 20;

const originationIds = new WeakMap<tls.ConnectionOptions, number>();
let nextOriginationId = 1;

function originationId(o: tls.ConnectionOptions): number {
  let id = originationIds.get(o);
  if (id === undefined) {
    id = nextOriginationId++;
    originationIds.set(o, id);
  }
  return id;
}

function poolKey(t: H2Target): string {
  if (t.origination) return `${t.host}:${t.port}|origination#${originationId(t.origination)}`;
  if (t.plaintext) return `${t.host}:${t.port}|plaintext|${t.localAddress ?? ''}`;
  const sans = t.serverSans?.map((m) => `${m.kind}:${m.value}`).join(' ') ?? '';
  return `${t.host}:${t.port}|${t.sni}${sans !== '' ? `|${sans}` : ''}`;
}

export class H2SessionPool {
  readonly #pools = new Map<string, PooledSession[]>();
  readonly #all = new Set<PooledSession>();
  readonly #bundle: () => CertBundle;
  readonly #logger: Logger;

  constructor(bundle: () => CertBundle, logger: Logger) {
    this.#bundle = bundle;
    this.#logger = logger;
  }

  /** Number of open sessions (tests, config_dump). */
  get size(): number {
    return this.#all.size;
  }

  request(target: H2Target, req: UpstreamRequest): UpstreamCall {
    const pooled = this.#acquire(target, req.connectTimeoutMs);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = pooled.session.request(req.headers, { endStream: req.body === undefined });
    } catch (e: unknown) {
      this.#drop(target, pooled);
      return { response: Promise.resolve(fail(new UpstreamError('UF', `cannot open stream: ${errorMessage(e)}`, { cause: e }))), abort: () => {} };
    }
    pooled.active++;
    pooled.served++;
    if (pooled.idleTimer) {
      clearTimeout(pooled.idleTimer);
      delete pooled.idleTimer;
    }
    if (req.maxRequestsPerConnection !== undefined && pooled.served >= req.maxRequestsPerConnection) {
      // Closing now would cancel the stream just queued on a session still connecting; the
      // session leaves the pool at once and closes after its last stream.
      this.#unpool(target, pooled);
      pooled.retiring = true;
    }
    const idleTimeoutMs = req.idleTimeoutMs;
    const response = new Promise<Awaited<UpstreamCall['response']>>((resolve) => {
      let settled = false;
      const failed = (e?: unknown): void => {
        if (settled) return;
        settled = true;
        const flag = pooled.connected ? 'UR' : 'UF';
        const why = e === undefined ? `stream closed with code ${stream.rstCode ?? 'unknown'}` : errorMessage(e);
        const refusedStream = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        resolve(fail(new UpstreamError(flag, `upstream ${target.host}:${target.port} (${target.sni}): ${why}`, { cause: e, refusedStream })));
      };
      let trailers: http2.IncomingHttpHeaders | undefined;
      stream.once('trailers', (t: http2.IncomingHttpHeaders) => {
        trailers = t;
      });
      stream.once('response', (headers, flags: number) => {
        settled = true;
        const upstream: UpstreamResponse = { status: Number(headers[':status'] ?? 502), headers, body: stream, trailers: () => trailers };
        // `endAfterHeaders` is set for server streams only; a client reads END_STREAM from the flags.
        if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) upstream.endAfterHeaders = true;
        if (pooled.peer) upstream.peer = pooled.peer;
        resolve(ok(upstream));
      });
      // Stays attached after the response, so that a mid-body error is never unhandled.
      stream.on('error', failed);
      stream.once('close', () => {
        pooled.active--;
        if (pooled.retiring && pooled.active === 0 && !pooled.session.closed) pooled.session.close();
        if (idleTimeoutMs !== undefined && pooled.active === 0 && !pooled.session.closed) {
          pooled.idleTimer = setTimeout(() => {
            if (pooled.active > 0) return;
            this.#drop(target, pooled);
            pooled.session.close();
          }, idleTimeoutMs);
          pooled.idleTimer.unref();
        }
        failed();
      });
    });
    const cancel = (): void => {
      if (stream.closed) return;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      this.#countReset(target, pooled);
    };
    if (req.body) {
      req.body.pipe(stream);
      req.body.once('error', cancel);
    }
    return { response, abort: cancel };
  }

  /** One more RST_STREAM sent on `pooled`: at the budget it leaves the pool and closes after its last stream. */
  #countReset(target: H2Target, pooled: PooledSession): void {
    pooled.resetsSent++;
    if (pooled.resetsSent < RESET_BUDGET || pooled.retiring) return;
    this.#unpool(target, pooled);
    pooled.retiring = true;
    if (pooled.active === 0 && !pooled.session.closed) pooled.session.close();
  }

  /**
   * Opens an RFC 8441 extended CONNECT stream (`:method CONNECT`, `:protocol` in `headers`) on a
   * pooled session, once the server's SETTINGS allow it. Resolves with the tunnel when the server
   * answers 200, else with its response (status, headers, and body: the caller reads or destroys
   * it) to relay, or an UpstreamError (UF when
   * the session never came up or the server does not allow extended CONNECT, UR on a reset).
   */
  async connect(
    target: H2Target,
    headers: http2.OutgoingHttpHeaders,
    connectTimeoutMs: number,
  ): Promise<Result<{ kind: 'tunnel'; tunnel: H2Tunnel } | { kind: 'refused'; status: number; headers: http2.IncomingHttpHeaders; body: Readable }, UpstreamError>> {
    const pooled = this.#acquire(target, connectTimeoutMs);
    await pooled.settings;
    if (pooled.session.destroyed || pooled.session.closed) return fail(new UpstreamError('UF', `upstream ${target.host}:${target.port}: session closed`));
    if (pooled.session.remoteSettings.enableConnectProtocol !== true) {
      return fail(new UpstreamError('UF', `upstream ${target.host}:${target.port} does not allow extended CONNECT`));
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = pooled.session.request(headers, { endStream: false });
    } catch (e: unknown) {
      return fail(new UpstreamError('UF', `cannot open stream: ${errorMessage(e)}`, { cause: e }));
    }
    pooled.active++;
    pooled.served++;
    stream.once('close', () => {
      pooled.active--;
    });
    return new Promise((resolve) => {
      stream.once('response', (h) => {
        const status = Number(h[':status'] ?? 502);
        // A 2xx the peer marks as a declined upgrade (websocket-tunnel.ts) is a response, not a tunnel.
        if (status === 200 && h[UPGRADE_DECLINED_HEADER] === undefined) resolve(ok({ kind: 'tunnel', tunnel: { stream, headers: h, ...(pooled.peer ? { peer: pooled.peer } : {}) } }));
        else {
          stream.end();
          resolve(ok({ kind: 'refused', status, headers: h, body: stream }));
        }
      });
      stream.on('error', () => {});
      stream.once('close', () => resolve(fail(new UpstreamError('UR', `upstream ${target.host}:${target.port}: tunnel stream closed with code ${stream.rstCode ?? 'unknown'}`))));
    });
  }

  #acquire(target: H2Target, connectTimeoutMs: number): PooledSession {
    const key = poolKey(target);
    const list = this.#pools.get(key) ?? [];
    for (const p of list) {
      const max = p.session.remoteSettings?.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
      if (!p.session.closed && !p.session.destroyed && p.active < Math.min(max, DEFAULT_MAX_STREAMS * 10)) return p;
    }
    const pooled = this.#connect(target, connectTimeoutMs, key);
    list.push(pooled);
    this.#pools.set(key, list);
    return pooled;
  }

  #connect(target: H2Target, connectTimeoutMs: number, key: string): PooledSession {
    const host = target.host.includes(':') ? `[${target.host}]` : target.host;
    let session: http2.ClientHttp2Session;
    if (target.plaintext) {
      const localAddress = target.localAddress;
      session =
        localAddress === undefined
          ? http2.connect(`http://${host}:${target.port}`)
          : http2.connect(`http://${host}:${target.port}`, { createConnection: () => net.connect({ host: target.host, port: target.port, localAddress }) });
    } else if (target.origination) {
      session = http2.connect(`https://${host}:${target.port}`, { ...target.origination, ALPNProtocols: ['h2'] });
    } else {
      const bundle = this.#bundle();
      session = http2.connect(`https://${host}:${target.port}`, {
        servername: target.sni,
        ALPNProtocols: target.alpn.length > 0 ? target.alpn : ['h2'],
        key: bundle.privateKeyPem,
        cert: bundle.certChainPem,
        ca: bundle.rootsPem,
        rejectUnauthorized: true,
        checkServerIdentity: meshServerIdentityCheck(target.serverSans, target.onSanMismatch),
      });
    }
    const pooled: PooledSession = {
      session,
      connected: false,
      active: 0,
      served: 0,
      resetsSent: 0,
      settings: new Promise((resolve) => {
        session.once('remoteSettings', () => resolve());
        session.once('close', () => resolve());
      }),
    };
    this.#all.add(pooled);
    const timer = setTimeout(() => {
      if (!pooled.connected) session.destroy(new UpstreamError('UF', `connect timeout after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    timer.unref();
    session.once('connect', (_s, socket) => {
      clearTimeout(timer);
      // The peer may have closed it (GOAWAY, reset) before 'connect' is delivered.
      if (session.destroyed) return;
      if (target.plaintext) {
        pooled.connected = true;
        session.setLocalWindowSize(MESH_CONNECTION_WINDOW_BYTES);
        return;
      }
      if (target.origination) {
        const alpn = (socket as TLSSocket).alpnProtocol;
        if (alpn !== 'h2') {
          session.destroy(new UpstreamError('UF', `the server did not select ALPN h2 (${alpn || 'none'})`));
          return;
        }
        pooled.connected = true;
        return;
      }
      const peer = peerIdentityOfSocket(socket as TLSSocket);
      if (!peer.ok) {
        session.destroy(new UpstreamError('UF', `server identity rejected: ${peer.errors.join('; ')}`));
        return;
      }
      pooled.connected = true;
      pooled.peer = peer.value;
      session.setLocalWindowSize(MESH_CONNECTION_WINDOW_BYTES);
    });
    session.on('error', (e: unknown) => {
      this.#logger.debug({ key, err: errorMessage(e), code: errorCode(e) }, 'upstream h2 session error');
    });
    session.once('goaway', () => this.#drop(target, pooled, key));
    session.once('close', () => {
      clearTimeout(timer);
      clearTimeout(pooled.idleTimer);
      this.#drop(target, pooled, key);
    });
    return pooled;
  }

  #drop(target: H2Target, pooled: PooledSession, key = poolKey(target)): void {
    this.#all.delete(pooled);
    this.#unpool(target, pooled, key);
  }

  /**
   * Drains sessions to endpoints removed from the config (EDS removals): a pooled session whose
   * `host:port` is in `removed` leaves the pool, so no new stream goes to it, and is closed
   * gracefully (GOAWAY; streams in flight finish first).
   */
  drainEndpoints(removed: ReadonlySet<string>): void {
    if (removed.size === 0) return;
    for (const [key, list] of [...this.#pools]) {
      const hostPort = key.slice(0, key.indexOf('|'));
      if (!removed.has(hostPort)) continue;
      this.#pools.delete(key);
      for (const p of list) if (!p.session.closed) p.session.close();
    }
  }

  /** Takes a session out of its key's list only: no new stream uses it; `close()` still reaches it. */
  #unpool(target: H2Target, pooled: PooledSession, key = poolKey(target)): void {
    const list = this.#pools.get(key);
    if (!list) return;
    const rest = list.filter((p) => p !== pooled);
    if (rest.length === 0) this.#pools.delete(key);
    else this.#pools.set(key, rest);
  }

  /**
   * Takes every session out of the pool (certificate or bundle change): an idle one is closed at
   * once; one with streams in flight closes after its last stream, like a session that reached
   * `maxRequestsPerConnection`. Closing it earlier would send our GOAWAY ahead of HEADERS still
   * queued (nghttp2 sends control frames first): the server then answers with its own GOAWAY and
   * refuses those streams, and a stream queued on a session still connecting would fail with
   * ERR_HTTP2_GOAWAY_SESSION. Both happened during a root rotation under load.
   */
  retire(): void {
    const sessions = [...this.#all];
    this.#pools.clear();
    for (const p of sessions) {
      if (p.session.closed) continue;
      if (p.active > 0) {
        p.retiring = true;
        continue;
      }
      this.#all.delete(p);
      p.session.close();
    }
  }

  /** Destroys every session (shutdown). */
  close(): void {
    const sessions = [...this.#all];
    this.#pools.clear();
    this.#all.clear();
    for (const p of sessions) p.session.destroy();
  }
}
