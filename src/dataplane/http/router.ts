import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { RouteConfig, WeightedClusterConfig } from '../../xds/config-types.ts';
import { applyHeaderOps } from './header-ops.ts';
import type { LocalReply } from './http-filter-interface.ts';
import { ReplayableBody } from './replayable-body.ts';
import { type AttemptOutcome, backoffMs, retriable } from './router-retry.ts';

/**
 * The router: the last HTTP filter. It owns what Envoy's router owns for a forwarding route — the
 * route timeout over all attempts, retries with per-try timeouts and back-off, request rewrites
 * and header edits, and mirroring — and delegates the rest through `RouterUpstream`: picking an
 * endpoint (the cluster layer) and sending one attempt (the proxy's transports).
 *
 * Contract: `forward` resolves once with the response to relay (its body not yet read) or a local
 * reply; it never rejects. Requests without a retry policy or mirrors pass their body through
 * untouched, so those features cost nothing when not configured.
 */

/** The request as the router forwards it; `headers` are HTTP/1-style (no pseudo-headers). */
export interface ForwardRequest {
  method: string;
  path: string;
  authority: string;
  headers: IncomingHttpHeaders;
  body: Readable | undefined;
}

export interface AttemptResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

export type AttemptResult<R extends AttemptResponse> =
  | { ok: true; response: R }
  | { ok: false; flag: 'UF' | 'UR'; message: string; refusedStream?: boolean };

/** One attempt in flight; `abort()` resets it (idempotent). */
export interface Attempt<R extends AttemptResponse> {
  response: Promise<AttemptResult<R>>;
  abort(): void;
}

/** An endpoint picked for one attempt, or why there is none (NC, UH, UO). */
export type UpstreamPick<T> = { ok: true; target: T; release?: () => void } | { ok: false; reply: LocalReply };

/** How an attempt after the first picks its endpoint. */
export interface RetryPick<T> {
  /** previous_priorities: the priorities of these earlier attempts are left out of the priority load. */
  readonly excludePrioritiesOf: readonly T[];
}

/** What the proxy gives the router. `T` is its picked-endpoint type. */
export interface RouterUpstream<T, R extends AttemptResponse> {
  /**
   * Picks an endpoint of `cluster`; `tried` holds targets of earlier attempts (for previous_hosts);
   * `retry` is set for every attempt after the first (it counts against max_retries).
   */
  pick(cluster: string, tried: readonly T[], retry?: RetryPick<T>): UpstreamPick<T>;
  send(target: T, request: ForwardRequest): Attempt<R>;
  /** The outcome of an attempt, for outlier detection. */
  report?(target: T, outcome: AttemptOutcome): void;
  /** Random source in [0, 1). */
  random(): number;
}

export type ForwardResult<T, R extends AttemptResponse> =
  | { ok: true; response: R; target: T; flags: string[]; attempts: number }
  | { ok: false; reply: LocalReply; target?: T; flags: string[]; attempts: number };

/** How long a mirrored request may take before it is reset (its response is never waited for). */
const MIRROR_TIMEOUT_MS = 15_000;

/** Retries and mirrors buffer at most this much request body (Envoy's default buffer limit). */
export const REPLAY_LIMIT_BYTES = 1 << 20;

/** The retry state of the next attempt: with previous_priorities, every `update_frequency` attempts the priorities tried so far are excluded. */
function retryPick<T>(policy: RouteConfig['retry'], tried: readonly T[]): RetryPick<T> {
  const every = policy?.previousPrioritiesUpdateFrequency;
  if (every === undefined) return { excludePrioritiesOf: [] };
  return { excludePrioritiesOf: tried.slice(0, Math.floor(tried.length / every) * every) };
}

function rewritePath(route: RouteConfig, path: string): string {
  const rw = route.rewrite;
  if (!rw || (rw.prefix === undefined && !rw.regex)) return path;
  const q = path.indexOf('?');
  const bare = q === -1 ? path : path.slice(0, q);
  const query = q === -1 ? '' : path.slice(q);
  if (rw.regex) return bare.replace(rw.regex.pattern, rw.regex.substitution) + query;
  const matched = route.match.prefix ?? route.match.path ?? bare;
  return (rw.prefix ?? '') + bare.slice(matched.length) + query;
}

/** The request the upstream sees: rewrites and request header edits applied. */
export function upstreamRequest(route: RouteConfig, cluster: WeightedClusterConfig, req: ForwardRequest): ForwardRequest {
  const needsHeaders = route.requestHeaders !== undefined || cluster.requestHeaders !== undefined || route.rewrite?.host !== undefined;
  if (!needsHeaders && !route.rewrite) return req;
  const headers = needsHeaders ? { ...req.headers } : req.headers;
  const authority = route.rewrite?.host ?? req.authority;
  if (route.rewrite?.host !== undefined) headers.host = authority;
  applyHeaderOps(headers, cluster.requestHeaders, route.requestHeaders);
  return { ...req, path: rewritePath(route, req.path), authority, headers };
}

/** Response header edits of the route and the weighted cluster, applied in place. */
export function editResponseHeaders(route: RouteConfig, cluster: WeightedClusterConfig | undefined, headers: OutgoingHttpHeaders): void {
  if (route.responseHeaders === undefined && cluster?.responseHeaders === undefined) return;
  applyHeaderOps(headers, cluster?.responseHeaders, route.responseHeaders);
}

function grpcStatusOf(headers: IncomingHttpHeaders): number | undefined {
  const v = headers['grpc-status'];
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends copies of the request to the route's mirror clusters; their responses are drained. */
function mirror<T, R extends AttemptResponse>(route: RouteConfig, req: ForwardRequest, body: ReplayableBody | undefined, up: RouterUpstream<T, R>): void {
  for (const m of route.mirrors) {
    if (m.perMillion < 1_000_000 && up.random() * 1_000_000 >= m.perMillion) continue;
    if (req.body && !body?.replayable) continue;
    const picked = up.pick(m.cluster, []);
    if (!picked.ok) continue;
    const authority = `${req.authority.replace(/(:\d+)?$/, '-shadow$1')}`;
    const attempt = up.send(picked.target, { ...req, authority, headers: { ...req.headers, host: authority }, body: body?.reader() });
    // A mirror never outlives the route's own bound: its slot in the cluster is given back.
    const timer = setTimeout(() => attempt.abort(), MIRROR_TIMEOUT_MS);
    timer.unref();
    void attempt.response.then((r) => {
      if (!r.ok) {
        clearTimeout(timer);
        picked.release?.();
        return;
      }
      r.response.body.once('close', () => {
        clearTimeout(timer);
        picked.release?.();
      });
      r.response.body.resume();
    });
  }
}

/**
 * Forwards one request along a forwarding route to `cluster`. `timeoutMs` bounds every attempt
 * together (0: none); the route's per-try timeout bounds each.
 */
export async function forward<T, R extends AttemptResponse>(
  route: RouteConfig,
  cluster: WeightedClusterConfig,
  original: ForwardRequest,
  timeoutMs: number,
  up: RouterUpstream<T, R>,
  signal: { aborted: boolean; onAbort(cb: () => void): void },
): Promise<ForwardResult<T, R>> {
  const req = upstreamRequest(route, cluster, original);
  const policy = route.retry;
  const replay = (policy && policy.numRetries > 0) || route.mirrors.length > 0;
  const body = replay && req.body ? new ReplayableBody(req.body, REPLAY_LIMIT_BYTES) : undefined;
  if (route.mirrors.length > 0) mirror(route, req, body, up);

  const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.POSITIVE_INFINITY;
  const tried: T[] = [];
  const flags: string[] = [];
  let attempts = 0;
  for (;;) {
    attempts++;
    const picked = up.pick(cluster.name, policy?.avoidPreviousHosts ? tried : [], attempts > 1 ? retryPick(policy, tried) : undefined);
    if (!picked.ok) return { ok: false, reply: picked.reply, flags, attempts };
    const target = picked.target;
    tried.push(target);
    const attemptBody = body ? body.reader() : req.body;
    const attempt = up.send(target, { ...req, body: attemptBody });
    signal.onAbort(() => attempt.abort());
    const remaining = deadline - Date.now();
    const perTry = policy?.perTryTimeoutMs;
    const limit = Math.min(remaining, perTry ?? Number.POSITIVE_INFINITY);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      if (Number.isFinite(limit)) timer = setTimeout(() => resolve('timeout'), Math.max(0, limit));
    });
    const result = await Promise.race([attempt.response, timedOut]);
    clearTimeout(timer);
    let outcome: AttemptOutcome;
    if (result === 'timeout') {
      attempt.abort();
      outcome = { kind: 'per-try-timeout' };
    } else if (result.ok) {
      const grpcStatus = grpcStatusOf(result.response.headers);
      outcome = { kind: 'response', status: result.response.status, ...(grpcStatus !== undefined ? { grpcStatus } : {}) };
    } else outcome = result.flag === 'UF' ? { kind: 'connect-failure' } : { kind: 'reset', refusedStream: result.refusedStream === true };
    up.report?.(target, outcome);

    // A timer can fire a millisecond before Date.now() reaches the deadline it was set for: when
    // the route deadline (not the per-try timeout) bounded this attempt, its timeout is the route's.
    const overall = (result === 'timeout' && limit === remaining) || Date.now() >= deadline;
    const canRetry =
      !overall && !signal.aborted && policy !== undefined && attempts <= policy.numRetries && retriable(policy, outcome) && (!req.body || body?.replayable === true);
    if (canRetry) {
      const wait = backoffMs(attempts, up.random);
      if (Date.now() + wait < deadline) {
        if (result !== 'timeout' && result.ok) result.response.body.destroy();
        picked.release?.();
        await sleep(wait);
        if (!signal.aborted) continue;
        return { ok: false, reply: { status: 503, flag: 'DC', body: 'downstream went away during a retry back-off' }, target, flags, attempts };
      }
    }
    const exhausted = policy !== undefined && retriable(policy, outcome) && !canRetry;
    if (exhausted && attempts > 1) flags.push('URX');
    if (result !== 'timeout' && result.ok) {
      const done = picked.release;
      if (done) {
        result.response.body.once('close', done);
      }
      return { ok: true, response: result.response, target, flags, attempts };
    }
    picked.release?.();
    if (result === 'timeout' || overall) {
      const ms = overall || perTry === undefined ? timeoutMs : perTry;
      return { ok: false, reply: { status: 504, flag: 'UT', body: `upstream timeout after ${ms} ms` }, target, flags, attempts };
    }
    return { ok: false, reply: { status: 503, flag: result.flag, body: result.message }, target, flags, attempts };
  }
}
