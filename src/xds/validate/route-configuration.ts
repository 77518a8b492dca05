import type { Result } from '../../common/result.ts';
import type { HashPolicyConfig, RouteConfig, RouteMatchConfig, RouteTable, VirtualHostConfig, WeightedClusterConfig } from '../config-types.ts';
import { websocketUpgrade } from './upgrade-configs.ts';
import { perFilterConfig } from './http-filters.ts';
import { directResponse, headerOps, mirrorPolicies, redirect, retryPolicy, rewrite } from './route-action.ts';
import { routeMatchAt } from './route-matchers.ts';
import { TYPE_URL } from '../type-urls.ts';
import {
  Issues,
  type Obj,
  isObj,
  join,
  list,
  onlyKeys,
  optDurationMs,
  optObj,
  optString,
  optWrappedBool,
  optWrappedInt,
  reqObj,
  reqString,
  stringList,
} from './reader.ts';

const MAX_WEIGHT = 0xffffffff;

function weightedClusters(action: Obj, path: string, issues: Issues): WeightedClusterConfig[] {
  const wc = reqObj(action, 'weighted_clusters', path, issues);
  if (!wc) return [];
  const p = join(path, 'weighted_clusters');
  onlyKeys(wc, ['clusters', 'total_weight'], p, issues);
  const out: WeightedClusterConfig[] = [];
  const items = list(wc, 'clusters', p, issues);
  if (items.length === 0) issues.add(join(p, 'clusters'), 'empty');
  items.forEach((c, i) => {
    const cp = join(join(p, 'clusters'), i);
    if (!isObj(c)) {
      issues.add(cp, 'not an object');
      return;
    }
    onlyKeys(
      c,
      ['name', 'weight', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove'],
      cp,
      issues,
    );
    const name = reqString(c, 'name', cp, issues);
    if (c['weight'] === undefined) issues.add(join(cp, 'weight'), 'missing');
    const weight = optWrappedInt(c, 'weight', 1, MAX_WEIGHT, cp, issues);
    if (name === undefined || weight === undefined) return;
    const entry: WeightedClusterConfig = { name, weight };
    const req = headerOps(c, 'request', cp, issues);
    const res = headerOps(c, 'response', cp, issues);
    if (req) entry.requestHeaders = req;
    if (res) entry.responseHeaders = res;
    out.push(entry);
  });
  // Deprecated in Envoy, which then requires the weights to add up to it.
  const total = optWrappedInt(wc, 'total_weight', 1, MAX_WEIGHT, p, issues);
  const sum = out.reduce((n, c) => n + c.weight, 0);
  if (total !== undefined && out.length === items.length && sum !== total) issues.add(join(p, 'total_weight'), `is ${total}, but the weights add up to ${sum}`);
  return out;
}

const ROUTE_ACTION_KEYS = [
  'cluster', 'weighted_clusters', 'timeout', 'retry_policy', 'request_mirror_policies', 'prefix_rewrite', 'regex_rewrite',
  'host_rewrite_literal', 'hash_policy', 'upgrade_configs',
];

/** The forwarding part of a route (`route`): clusters, timeout, retries, mirrors, rewrites, hash policy. */
function forwardAction(action: Obj, out: RouteConfig, path: string, issues: Issues): void {
  onlyKeys(action, ROUTE_ACTION_KEYS, path, issues);
  if (action['cluster'] !== undefined && action['weighted_clusters'] !== undefined) {
    issues.add(path, 'cluster and weighted_clusters are exclusive');
  } else if (action['weighted_clusters'] !== undefined) {
    out.clusters = weightedClusters(action, path, issues);
  } else {
    const name = reqString(action, 'cluster', path, issues);
    if (name !== undefined) out.clusters = [{ name, weight: 1 }];
  }
  const timeoutMs = optDurationMs(action, 'timeout', path, issues);
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  const retry = retryPolicy(action, path, issues);
  if (retry) out.retry = retry;
  out.mirrors = mirrorPolicies(action, path, issues);
  const rw = rewrite(action, path, issues);
  if (rw) out.rewrite = rw;
  const hashPolicy = hashPolicies(action, path, issues);
  if (hashPolicy) out.hashPolicy = hashPolicy;
  const websocket = websocketUpgrade(action, path, issues);
  if (websocket !== undefined) out.websocket = websocket;
}

const ROUTE_KEYS = [
  'name', 'match', 'route', 'redirect', 'direct_response', 'typed_per_filter_config', 'request_headers_to_add',
  'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove',
];

/**
 * `RouteAction.hash_policy`: header, cookie (name, path, ttl), connection_properties.source_ip and
 * query_parameter, each with `terminal`. Other policies (filter_state, header regex_rewrite,
 * cookie attributes) are errors naming their path. Kept apart from `route` so that the hash
 * policy stays one self-contained piece of the route validator.
 */
function hashPolicies(action: Obj, path: string, issues: Issues): HashPolicyConfig[] | undefined {
  const items = list(action, 'hash_policy', path, issues);
  if (items.length === 0) return undefined;
  const out: HashPolicyConfig[] = [];
  items.forEach((h, i) => {
    const hp = join(join(path, 'hash_policy'), i);
    if (!isObj(h)) {
      issues.add(hp, 'not an object');
      return;
    }
    onlyKeys(h, ['header', 'cookie', 'connection_properties', 'query_parameter', 'terminal'], hp, issues);
    const terminal = h['terminal'] === true;
    const header = optObj(h, 'header', hp, issues);
    const cookie = optObj(h, 'cookie', hp, issues);
    const conn = optObj(h, 'connection_properties', hp, issues);
    const query = optObj(h, 'query_parameter', hp, issues);
    if ([header, cookie, conn, query].filter(Boolean).length !== 1) {
      issues.add(hp, 'exactly one of header, cookie, connection_properties, query_parameter is required');
      return;
    }
    if (header) {
      onlyKeys(header, ['header_name'], join(hp, 'header'), issues);
      const name = reqString(header, 'header_name', join(hp, 'header'), issues);
      if (name) out.push({ kind: 'header', name: name.toLowerCase(), terminal });
    } else if (cookie) {
      const cp = join(hp, 'cookie');
      onlyKeys(cookie, ['name', 'path', 'ttl'], cp, issues);
      const name = reqString(cookie, 'name', cp, issues);
      const cookiePath = optString(cookie, 'path', cp, issues);
      const ttlMs = optDurationMs(cookie, 'ttl', cp, issues);
      if (name) {
        out.push({
          kind: 'cookie',
          name,
          ...(cookiePath ? { path: cookiePath } : {}),
          ...(ttlMs !== undefined ? { ttlMs } : {}),
          terminal,
        });
      }
    } else if (conn) {
      const cp = join(hp, 'connection_properties');
      onlyKeys(conn, ['source_ip'], cp, issues);
      if (conn['source_ip'] !== true) issues.add(join(cp, 'source_ip'), 'must be true');
      else out.push({ kind: 'source-ip', terminal });
    } else if (query) {
      onlyKeys(query, ['name'], join(hp, 'query_parameter'), issues);
      const name = reqString(query, 'name', join(hp, 'query_parameter'), issues);
      if (name) out.push({ kind: 'query', name, terminal });
    }
  });
  return out;
}

function route(r: unknown, index: number, path: string, issues: Issues): RouteConfig | undefined {
  if (!isObj(r)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(r, ROUTE_KEYS, path, issues);
  const m = reqObj(r, 'match', path, issues);
  const match: RouteMatchConfig = m ? routeMatchAt(m, join(path, 'match'), issues) : { caseSensitive: true, headers: [], queryParameters: [] };
  const out: RouteConfig = { name: optString(r, 'name', path, issues) ?? String(index), match, clusters: [], mirrors: [], perFilter: {} };
  const actions = (['route', 'redirect', 'direct_response'] as const).filter((k) => r[k] !== undefined && r[k] !== null);
  const kind = actions[0];
  if (actions.length !== 1 || kind === undefined) {
    issues.add(path, 'exactly one of route, redirect or direct_response is required');
    return undefined;
  }
  const body = reqObj(r, kind, path, issues);
  if (!body) return undefined;
  if (kind === 'route') forwardAction(body, out, join(path, 'route'), issues);
  else if (kind === 'redirect') out.redirect = redirect(body, join(path, 'redirect'), issues);
  else out.directResponse = directResponse(body, join(path, 'direct_response'), issues);
  const req = headerOps(r, 'request', path, issues);
  const res = headerOps(r, 'response', path, issues);
  if (req) out.requestHeaders = req;
  if (res) out.responseHeaders = res;
  out.perFilter = perFilterConfig(r, path, issues);
  return out;
}

function virtualHost(vh: unknown, path: string, issues: Issues): VirtualHostConfig | undefined {
  if (!isObj(vh)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(vh, ['name', 'domains', 'routes'], path, issues);
  const name = reqString(vh, 'name', path, issues) ?? '';
  const domains = stringList(vh, 'domains', path, issues).map((d) => d.toLowerCase());
  if (domains.length === 0) issues.add(join(path, 'domains'), 'empty');
  const routes: RouteConfig[] = [];
  list(vh, 'routes', path, issues).forEach((r, i) => {
    const rc = route(r, i, join(join(path, 'routes'), i), issues);
    if (rc) routes.push(rc);
  });
  return { name, domains, routes };
}

/**
 * Validates one decoded `envoy.config.route.v3.VirtualHost` of a RouteConfiguration's
 * `virtual_hosts` at `index`, exactly as `validateRouteConfiguration` validates it there (a
 * virtual host is checked on its own; nothing in it depends on its siblings). For receivers that
 * re-validate only the virtual hosts that changed.
 */
export function validateVirtualHost(vh: unknown, index: number): Result<VirtualHostConfig> {
  const issues = new Issues();
  const v = virtualHost(vh, join(join('', 'virtual_hosts'), index), issues);
  return issues.ok && v ? { ok: true, value: v } : { ok: false, errors: issues.errors };
}

/** Validates a route table body (shared by RDS resources and HCM inline `route_config`). */
export function routeTableAt(r: Obj, path: string, issues: Issues): RouteTable {
  onlyKeys(r, ['name', 'virtual_hosts', 'validate_clusters'], path, issues);
  // Envoy's RDS default (false) is what meshfed does: a route to an unknown cluster answers 503 NC.
  if (optWrappedBool(r, 'validate_clusters', path, issues) === true) issues.add(join(path, 'validate_clusters'), 'not supported: routes are not checked against the cluster set');
  const name = optString(r, 'name', path, issues) ?? '';
  const virtualHosts: VirtualHostConfig[] = [];
  list(r, 'virtual_hosts', path, issues).forEach((vh, i) => {
    const v = virtualHost(vh, join(join(path, 'virtual_hosts'), i), issues);
    if (v) virtualHosts.push(v);
  });
  return { name, virtualHosts };
}

/**
 * Validates a decoded `envoy.config.route.v3.RouteConfiguration` into a RouteTable: matches
 * (prefix, path, safe_regex, headers, query parameters, case sensitivity), forwarding (clusters,
 * weights, timeout, retry policy, mirrors, rewrites, hash policy), redirects, direct responses, header edits and
 * per-route fault and CORS config. Anything else is an error naming its path.
 */
export function validateRouteConfiguration(r: unknown): Result<RouteTable> {
  const issues = new Issues();
  if (!isObj(r)) return { ok: false, errors: ['route configuration: not an object'] };
  if (r['@type'] !== undefined && r['@type'] !== TYPE_URL.route) issues.add('@type', `expected ${TYPE_URL.route}`);
  if (typeof r['name'] !== 'string' || r['name'] === '') issues.add('name', 'missing');
  const table = routeTableAt(r, '', issues);
  return issues.ok ? { ok: true, value: table } : { ok: false, errors: issues.errors };
}

