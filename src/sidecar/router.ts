import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig, RouteTable, VirtualHostConfig, WeightedClusterConfig } from '../xds/config-types.ts';

/**
 * Request routing over an RDS route table (pure functions; randomness is injected).
 *
 * Virtual host selection: the Host is lower-cased; an exact domain match on the full Host (with
 * its `:port`, if any) wins, then an exact match on the host without the port, then `*`.
 * Route selection: the first route of the virtual host whose path/prefix and header matchers all
 * match. Cluster selection: weighted random over the route's clusters.
 */

/** Returns the virtual host serving `host`, or undefined (→ 404 NR). */
export function selectVirtualHost(table: RouteTable, host: string): VirtualHostConfig | undefined {
  const full = host.trim().toLowerCase();
  const bare = stripPort(full);
  const byDomain = (d: string): VirtualHostConfig | undefined => table.virtualHosts.find((vh) => vh.domains.includes(d));
  return byDomain(full) ?? (bare !== full ? byDomain(bare) : undefined) ?? byDomain('*');
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

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
}

/** True when `route`'s matchers accept the request. `path` includes the query string. */
export function routeMatches(route: RouteConfig, path: string, headers: IncomingHttpHeaders): boolean {
  const pathOnly = path.split('?', 1)[0] ?? '';
  const m = route.match;
  if (m.path !== undefined && pathOnly !== m.path) return false;
  if (m.prefix !== undefined && !pathOnly.startsWith(m.prefix)) return false;
  for (const h of m.headers) {
    const v = headerValue(headers, h.name);
    if (v === undefined) return false;
    if (h.exact !== undefined && v !== h.exact) return false;
    if (h.prefix !== undefined && !v.startsWith(h.prefix)) return false;
  }
  return true;
}

/** The first matching route of a virtual host, or undefined (→ 404 NR). */
export function selectRoute(vh: VirtualHostConfig, path: string, headers: IncomingHttpHeaders): RouteConfig | undefined {
  return vh.routes.find((r) => routeMatches(r, path, headers));
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

/** Result of routing one request: either a cluster name and route, or the reason it failed. */
export type RouteDecision =
  | { ok: true; route: RouteConfig; virtualHost: VirtualHostConfig; cluster: string }
  | { ok: false; flag: 'NR' };

/** Routes one request through a table; `NR` when no virtual host or route matches. */
export function routeRequest(
  table: RouteTable | undefined,
  host: string,
  path: string,
  headers: IncomingHttpHeaders,
  random: () => number = Math.random,
): RouteDecision {
  if (!table) return { ok: false, flag: 'NR' };
  const vh = selectVirtualHost(table, host);
  if (!vh) return { ok: false, flag: 'NR' };
  const route = selectRoute(vh, path, headers);
  if (!route) return { ok: false, flag: 'NR' };
  const picked = pickWeightedCluster(route.clusters, random);
  if (!picked) return { ok: false, flag: 'NR' };
  return { ok: true, route, virtualHost: vh, cluster: picked.name };
}
