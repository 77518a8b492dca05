import type { Result } from '../../common/result.ts';
import type { HashPolicyConfig, RouteConfig, RouteMatchConfig, RouteTable, VirtualHostConfig, WeightedClusterConfig } from '../config-types.ts';
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
  optWrappedInt,
  reqObj,
  reqString,
  stringList,
} from './reader.ts';

const MAX_WEIGHT = 0xffffffff;

function headerMatcher(h: unknown, path: string, issues: Issues): RouteMatchConfig['headers'][number] | undefined {
  if (!isObj(h)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(h, ['name', 'string_match'], path, issues);
  const name = reqString(h, 'name', path, issues);
  const sm = reqObj(h, 'string_match', path, issues);
  if (!name || !sm) return undefined;
  const sp = join(path, 'string_match');
  onlyKeys(sm, ['exact', 'prefix'], sp, issues);
  const exact = optString(sm, 'exact', sp, issues);
  const prefix = optString(sm, 'prefix', sp, issues);
  if (exact === undefined && prefix === undefined) issues.add(sp, 'one of exact or prefix is required');
  const out: RouteMatchConfig['headers'][number] = { name: name.toLowerCase() };
  if (exact !== undefined) out.exact = exact;
  if (prefix !== undefined) out.prefix = prefix;
  return out;
}

function routeMatch(route: Obj, path: string, issues: Issues): RouteMatchConfig {
  const m = reqObj(route, 'match', path, issues);
  const out: RouteMatchConfig = { headers: [] };
  if (!m) return out;
  const p = join(path, 'match');
  onlyKeys(m, ['prefix', 'path', 'headers'], p, issues);
  const prefix = optString(m, 'prefix', p, issues);
  const exactPath = optString(m, 'path', p, issues);
  if (prefix === undefined && exactPath === undefined) issues.add(p, 'one of prefix or path is required');
  if (prefix !== undefined) out.prefix = prefix;
  if (exactPath !== undefined) out.path = exactPath;
  list(m, 'headers', p, issues).forEach((h, i) => {
    const hm = headerMatcher(h, join(join(p, 'headers'), i), issues);
    if (hm) out.headers.push(hm);
  });
  return out;
}

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
    onlyKeys(c, ['name', 'weight'], cp, issues);
    const name = reqString(c, 'name', cp, issues);
    if (c['weight'] === undefined) issues.add(join(cp, 'weight'), 'missing');
    const weight = optWrappedInt(c, 'weight', 1, MAX_WEIGHT, cp, issues);
    if (name !== undefined && weight !== undefined) out.push({ name, weight });
  });
  return out;
}

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
  onlyKeys(r, ['name', 'match', 'route'], path, issues);
  const match = routeMatch(r, path, issues);
  const action = reqObj(r, 'route', path, issues);
  if (!action) return undefined;
  const ap = join(path, 'route');
  onlyKeys(action, ['cluster', 'weighted_clusters', 'timeout', 'hash_policy'], ap, issues);
  let clusters: WeightedClusterConfig[] = [];
  if (action['cluster'] !== undefined && action['weighted_clusters'] !== undefined) {
    issues.add(ap, 'cluster and weighted_clusters are exclusive');
  } else if (action['weighted_clusters'] !== undefined) {
    clusters = weightedClusters(action, ap, issues);
  } else {
    const name = reqString(action, 'cluster', ap, issues);
    if (name !== undefined) clusters = [{ name, weight: 1 }];
  }
  const out: RouteConfig = { name: optString(r, 'name', path, issues) ?? String(index), match, clusters };
  const timeoutMs = optDurationMs(action, 'timeout', ap, issues);
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  const hashPolicy = hashPolicies(action, ap, issues);
  if (hashPolicy) out.hashPolicy = hashPolicy;
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

/** Validates a route table body (shared by RDS resources and HCM inline `route_config`). */
export function routeTableAt(r: Obj, path: string, issues: Issues): RouteTable {
  onlyKeys(r, ['name', 'virtual_hosts', 'validate_clusters'], path, issues);
  const name = optString(r, 'name', path, issues) ?? '';
  const virtualHosts: VirtualHostConfig[] = [];
  list(r, 'virtual_hosts', path, issues).forEach((vh, i) => {
    const v = virtualHost(vh, join(join(path, 'virtual_hosts'), i), issues);
    if (v) virtualHosts.push(v);
  });
  return { name, virtualHosts };
}

/**
 * Validates a decoded `envoy.config.route.v3.RouteConfiguration` into a RouteTable. Only prefix and
 * exact-path matches, exact/prefix header matches and `cluster` / `weighted_clusters` actions
 * (with `timeout` and `hash_policy`) are supported; anything else (redirects, regexes, retries...) is an error naming its path.
 */
export function validateRouteConfiguration(r: unknown): Result<RouteTable> {
  const issues = new Issues();
  if (!isObj(r)) return { ok: false, errors: ['route configuration: not an object'] };
  if (r['@type'] !== undefined && r['@type'] !== TYPE_URL.route) issues.add('@type', `expected ${TYPE_URL.route}`);
  if (typeof r['name'] !== 'string' || r['name'] === '') issues.add('name', 'missing');
  const table = routeTableAt(r, '', issues);
  return issues.ok ? { ok: true, value: table } : { ok: false, errors: issues.errors };
}

