import type { OutgoingHttpHeaders } from 'node:http';
import type { HttpFilterConfig, RouteConfig } from '../../xds/config-types.ts';
import type { RequestView } from './route-table.ts';

/**
 * The contract of an HTTP filter, in Envoy's shape: filters run in the connection manager's order
 * on the request (decode) before the router, and in reverse order on the response headers
 * (encode). Each filter reads its settings from the matched route's per-filter config; a filter
 * whose route carries none does nothing and costs one property read.
 */

/** A reply the proxy writes itself instead of forwarding (`flag`: Envoy's response flag, or ''). */
export interface LocalReply {
  status: number;
  flag: string;
  body: string;
  headers?: OutgoingHttpHeaders;
}

export type FilterDecision = { kind: 'continue' } | { kind: 'reply'; reply: LocalReply };

export const CONTINUE: FilterDecision = Object.freeze({ kind: 'continue' });

/** What a filter sees of one request. `flags` collects response flags filters set (DI, FI). */
export interface FilterRequest {
  readonly request: RequestView;
  readonly route: RouteConfig;
  readonly flags: string[];
  /** Random source in [0, 1). */
  readonly random: () => number;
  /**
   * Envoy's dynamic metadata, by filter namespace (e.g. `envoy.filters.http.jwt_authn`): facts a
   * filter leaves for the ones after it. Present on inbound requests only.
   */
  readonly metadata?: Map<string, Record<string, unknown>>;
  /** The downstream connection, on inbound requests only (outbound filters do not read it). */
  readonly connection?: ConnectionFacts;
}

/**
 * What RBAC-style filters know of the downstream connection. `remoteIp` follows Istio's
 * `numTrustedProxies: 0`: x-forwarded-for is not trusted, so it is the direct peer's address.
 */
export interface ConnectionFacts {
  /** The peer's SPIFFE ID without `spiffe://` (Istio's principal), or undefined without mTLS. */
  readonly principal: string | undefined;
  /** The namespace in the peer's SPIFFE ID (`ns/<namespace>/`), or undefined. */
  readonly namespace: string | undefined;
  readonly sourceIp: string;
  readonly remoteIp: string;
  readonly destinationIp: string;
  readonly destinationPort: number;
  /** The TLS SNI the peer sent, '' when none. */
  readonly sni: string;
}

export interface HttpFilter {
  /** Envoy's config type URL of the filter, e.g. `type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault`. */
  readonly typeUrl: string;
  /**
   * Decode phase. Returns CONTINUE, a local reply, or a promise of either (a fault delay). Must not
   * throw on any request.
   */
  onRequest(req: FilterRequest): FilterDecision | Promise<FilterDecision>;
  /** Encode phase: may edit the response headers before they reach the downstream. */
  onResponseHeaders?(req: FilterRequest, status: number, headers: OutgoingHttpHeaders): void;
  /** True when the filter acts on routes without per-route config too (listener-level settings). */
  readonly everyRoute?: boolean;
}

/** Counts one of a filter's Envoy stats by its dotted name (`<stat_prefix>.http_local_rate_limit.ok`). */
export type FilterStatSink = (name: string) => void;

/**
 * Builds a filter instance for one listener's filter config (its listener-level settings) and the
 * proxy's stats; called once per config, not per request.
 */
export type HttpFilterFactory = (config: HttpFilterConfig, stats: FilterStatSink) => HttpFilter;
