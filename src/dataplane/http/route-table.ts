import type { IncomingHttpHeaders } from 'node:http';
import type {
  HeaderMatcherConfig,
  QueryParameterMatcherConfig,
  RouteConfig,
  RouteTable,
  StringMatcherConfig,
  VirtualHostConfig,
  WeightedClusterConfig,
} from '../../xds/config-types.ts';

/**
 * Request routing over an RDS route table (pure functions; randomness is injected), shared by
 * every HTTP listener of the proxies.
 *
 * Virtual host selection: the Host is lower-cased; an exact domain match on the full Host (with
 * its `:port`, if any) wins, then an exact match on the host without the port, then `*`.
 * Route selection: the first route of the virtual host whose path (prefix, exact path or full-match
 * regex, on the path without its query), header (pseudo-headers `:method`, `:authority`, `:scheme`,
 * `:path` included) and query-parameter matchers all match. Cluster selection: weighted random.
 */

/**
 * Domain → virtual host of a table (the first virtual host listing a domain wins), built once per
 * table: tables are immutable, so a lookup is one hash probe whatever the mesh size, as Envoy's
 * exact-domain map.
 */
const domainIndex = new WeakMap<RouteTable, Map<string, VirtualHostConfig>>();

function indexOf(table: RouteTable): Map<string, VirtualHostConfig> {
  let index = domainIndex.get(table);
  if (!index) {
    index = new Map();
    for (const vh of table.virtualHosts) for (const d of vh.domains) if (!index.has(d)) index.set(d, vh);
    domainIndex.set(table, index);
  }
  return index;
}

/** Returns the virtual host serving `host`, or undefined (→ 404 NR). */
export function selectVirtualHost(table: RouteTable, host: string): VirtualHostConfig | undefined {
  const full = host.trim().toLowerCase();
  const bare = stripPort(full);
  const index = indexOf(table);
  return index.get(full) ?? (bare !== full ? index.get(bare) : undefined) ?? index.get('*');
}

/** `host:port` → `host`; `[::1]:80` → `[::1]`; a bare IPv6 literal or a host without port is kept. */
export function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  if (colon === -1 || host.indexOf(':') !== colon) return host;
  return /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

/** What route matching reads of a request. `path` includes the query string. */
export interface RequestView {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  headers: IncomingHttpHeaders;
}

/** A header's value as Envoy matches it: repeated headers joined with ','. */
export function headerValue(req: RequestView, name: string): string | undefined {
  switch (name) {
    case ':method':
      return req.method;
    case ':authority':
      return req.authority;
    case ':scheme':
      return req.scheme;
    case ':path':
      return req.path;
    default: {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    }
  }
}

/** Envoy StringMatcher semantics (a regex is a full match; `ignoreCase` lower-cases both sides). */
export function stringMatches(m: StringMatcherConfig, value: string): boolean {
  if (m.regex) return m.regex.test(value);
  const v = m.ignoreCase ? value.toLowerCase() : value;
  if (m.exact !== undefined) return v === m.exact;
  if (m.prefix !== undefined) return v.startsWith(m.prefix);
  if (m.suffix !== undefined) return v.endsWith(m.suffix);
  if (m.contains !== undefined) return v.includes(m.contains);
  return false;
}

export function headerMatches(h: HeaderMatcherConfig, req: RequestView): boolean {
  const v = headerValue(req, h.name);
  let matched: boolean;
  if (h.present !== undefined) matched = (v !== undefined) === h.present;
  else matched = v !== undefined && h.match !== undefined && stringMatches(h.match, v);
  return h.invert ? !matched : matched;
}

function queryValue(query: string, name: string): string | undefined {
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const k = eq === -1 ? part : part.slice(0, eq);
    if (decodeQuery(k) === name) return eq === -1 ? '' : decodeQuery(part.slice(eq + 1));
  }
  return undefined;
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

function queryMatches(q: QueryParameterMatcherConfig, query: string): boolean {
  const v = queryValue(query, q.name);
  if (q.present !== undefined) return (v !== undefined) === q.present;
  return v !== undefined && q.match !== undefined && stringMatches(q.match, v);
}

/** True when `route`'s matchers accept the request. */
export function routeMatches(route: RouteConfig, req: RequestView): boolean {
  const m = route.match;
  const q = req.path.indexOf('?');
  const rawPath = q === -1 ? req.path : req.path.slice(0, q);
  const path = m.caseSensitive ? rawPath : rawPath.toLowerCase();
  if (m.path !== undefined && path !== m.path) return false;
  if (m.prefix !== undefined && !path.startsWith(m.prefix)) return false;
  if (m.regex !== undefined && !m.regex.test(rawPath)) return false;
  for (const h of m.headers) if (!headerMatches(h, req)) return false;
  if (m.queryParameters.length > 0) {
    const query = q === -1 ? '' : req.path.slice(q + 1);
    for (const qp of m.queryParameters) if (!queryMatches(qp, query)) return false;
  }
  return true;
}

/** The first matching route of a virtual host, or undefined (→ 404 NR). */
export function selectRoute(vh: VirtualHostConfig, req: RequestView): RouteConfig | undefined {
  return vh.routes.find((r) => routeMatches(r, req));
}

/**
 * Weighted random pick. `random` returns a number in [0, 1) (Math.random by default); an entry
 * with weight w is chosen with probability w / Σw. Returns undefined for an empty list or zero
 * total weight.
 */
export function pickWeightedCluster(
  clusters: readonly WeightedClusterConfig[],
  random: () => number = Math.random,
): WeightedClusterConfig | undefined {
  if (clusters.length === 1) return (clusters[0]?.weight ?? 0) > 0 ? clusters[0] : undefined;
  const total = clusters.reduce((sum, c) => sum + Math.max(0, c.weight), 0);
  if (total <= 0) return undefined;
  let point = Math.floor(random() * total);
  for (const c of clusters) {
    const w = Math.max(0, c.weight);
    if (point < w) return c;
    point -= w;
  }
  return clusters[clusters.length - 1];
}

/**
 * Result of routing one request: the route and virtual host, and for a forwarding route the
 * weighted cluster entry picked (absent for redirect and direct-response routes).
 */
export type RouteDecision =
  | { ok: true; route: RouteConfig; virtualHost: VirtualHostConfig; cluster?: WeightedClusterConfig }
  | { ok: false; flag: 'NR' };

/** Routes one request through a table; `NR` when no virtual host or route matches. */
export function routeRequest(table: RouteTable | undefined, req: RequestView, random: () => number = Math.random): RouteDecision {
  if (!table) return { ok: false, flag: 'NR' };
  const vh = selectVirtualHost(table, req.authority);
  if (!vh) return { ok: false, flag: 'NR' };
  const route = selectRoute(vh, req);
  if (!route) return { ok: false, flag: 'NR' };
  if (route.clusters.length === 0) return { ok: true, route, virtualHost: vh };
  const picked = pickWeightedCluster(route.clusters, random);
  if (!picked) return { ok: false, flag: 'NR' };
  return { ok: true, route, virtualHost: vh, cluster: picked };
}
