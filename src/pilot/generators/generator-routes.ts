import { outboundClusterName, ROUTE_OUTBOUND } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { HashPolicy, HeaderMatcher, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { HttpMatchRequest, HttpRoute } from '../config/config-types.ts';
import type { ServiceModel, Snapshot } from '../model/snapshot.ts';
import { durationFromMs } from './generator-common.ts';
import { hashPolicyOf, trafficPolicyFor } from './generator-traffic-policy.ts';

/** `reviews.default.svc.cluster.local:9080`: the virtual host (sidecar) and route config (proxyless) name. */
export function hostPortName(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

/**
 * Domains a sidecar's app may use for a service port (Istio's short forms): the FQDN,
 * `name.ns.svc`, `name.ns`, and `name` when the proxy is in the service's namespace; each with
 * `:port`, and also without a port on the service's lowest port only (so that one route config
 * never lists a domain twice).
 */
export function sidecarDomains(service: ServiceModel, port: number, proxyNamespace: string, domainSuffix: string): string[] {
  const names = [service.hostname];
  if (service.hostname === `${service.name}.${service.namespace}.svc.${domainSuffix}`) {
    names.push(`${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`);
    if (proxyNamespace === service.namespace) names.push(service.name);
  }
  const portless = service.ports[0]?.port === port;
  return names.flatMap((n) => (portless ? [n, `${n}:${port}`] : [`${n}:${port}`]));
}

function routeMatch(m: HttpMatchRequest | undefined): RouteMatch {
  const match: RouteMatch = {};
  if (m?.uri?.exact !== undefined) match.path = m.uri.exact;
  else match.prefix = m?.uri?.prefix ?? '/';
  const headers: HeaderMatcher[] = Object.keys(m?.headers ?? {})
    .sort()
    .flatMap((name) => {
      const h = m?.headers[name];
      if (!h) return [];
      return [{ name, string_match: h.exact !== undefined ? { exact: h.exact } : { prefix: h.prefix ?? '' } }];
    });
  if (headers.length > 0) match.headers = headers;
  return match;
}

/**
 * Destination port: the one named; else the virtual host's port when the destination is the same
 * host; else the destination service's only port; else the virtual host's port.
 */
function destinationPort(snap: Snapshot, dest: { host: string; port?: number }, hostname: string, port: number): number {
  if (dest.port !== undefined) return dest.port;
  if (dest.host === hostname) return port;
  const ports = snap.services.get(dest.host)?.ports ?? [];
  return ports.length === 1 && ports[0] ? ports[0].port : port;
}

/**
 * The route's hash policy (for consistentHash destinations): the destinations' DestinationRule
 * consistentHash, when every destination cluster of the route has the same one (Istio's rule).
 * Kept in its own function so the router's other features grow beside it.
 */
function routeHashPolicy(snap: Snapshot, destinations: readonly { host: string; subset: string; port: number }[]): HashPolicy[] | undefined {
  let policy: HashPolicy[] | undefined;
  let text: string | undefined;
  for (const d of destinations) {
    const p = hashPolicyOf(trafficPolicyFor(snap, d.host, d.port, d.subset));
    const t = JSON.stringify(p);
    if (text !== undefined && t !== text) return undefined;
    text = t;
    policy = p;
  }
  return policy;
}

function routeAction(snap: Snapshot, http: HttpRoute, hostname: string, port: number): RouteAction {
  const weights = new Map<string, number>();
  const destinations: { host: string; subset: string; port: number }[] = [];
  for (const d of http.route) {
    if (d.weight <= 0) continue;
    const destPort = destinationPort(snap, d.destination, hostname, port);
    const name = outboundClusterName(destPort, d.destination.subset, d.destination.host);
    weights.set(name, (weights.get(name) ?? 0) + d.weight);
    destinations.push({ host: d.destination.host, subset: d.destination.subset, port: destPort });
  }
  const clusters = [...weights.entries()];
  const action: RouteAction =
    clusters.length === 1 && clusters[0]
      ? { cluster: clusters[0][0] }
      : { weighted_clusters: { clusters: clusters.map(([name, weight]) => ({ name, weight: { value: weight } })) } };
  if (http.timeoutMs !== undefined) action.timeout = durationFromMs(http.timeoutMs);
  const hashPolicy = routeHashPolicy(snap, destinations);
  if (hashPolicy) action.hash_policy = hashPolicy;
  return action;
}

/**
 * Routes of one service port: the host's VirtualService (one route per match, in order; no match
 * means prefix `/`), or a single default route to `outbound|<port>||<host>`.
 */
export function routesFor(snap: Snapshot, hostname: string, port: number): Route[] {
  const vs = snap.virtualServices.get(hostname);
  if (!vs) {
    const action: RouteAction = { cluster: outboundClusterName(port, '', hostname) };
    const hashPolicy = routeHashPolicy(snap, [{ host: hostname, subset: '', port }]);
    if (hashPolicy) action.hash_policy = hashPolicy;
    return [{ name: 'default', match: { prefix: '/' }, route: action }];
  }
  const routes: Route[] = [];
  for (const http of vs.spec.http) {
    const action = routeAction(snap, http, hostname, port);
    const matches: (HttpMatchRequest | undefined)[] = http.match.length > 0 ? [...http.match] : [undefined];
    for (const m of matches) {
      const name = [http.name, m?.name].filter((s): s is string => s !== undefined && s !== '').join('.');
      routes.push({ ...(name !== '' ? { name } : {}), match: routeMatch(m), route: action });
    }
  }
  return routes;
}

function sidecarRoutes(proxy: ProxyNode, snap: Snapshot): RouteConfiguration[] {
  const virtual_hosts: VirtualHost[] = [];
  for (const service of snap.services.values()) {
    for (const { port } of service.ports) {
      virtual_hosts.push({
        name: hostPortName(service.hostname, port),
        domains: sidecarDomains(service, port, proxy.namespace, snap.domainSuffix),
        routes: routesFor(snap, service.hostname, port),
      });
    }
  }
  return [{ '@type': TYPE_URL.route, name: ROUTE_OUTBOUND, virtual_hosts }];
}

/** Proxyless clients get ROUND_ROBIN clusters only (see generateClusters), so no hash policy. */
function withoutHashPolicy(routes: Route[]): Route[] {
  return routes.map((r) => {
    if (!r.route.hash_policy) return r;
    const { hash_policy: _, ...route } = r.route;
    return { ...r, route };
  });
}

function proxylessRoutes(snap: Snapshot): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  for (const service of snap.services.values()) {
    for (const { port } of service.ports) {
      const name = hostPortName(service.hostname, port);
      out.push({
        '@type': TYPE_URL.route,
        name,
        virtual_hosts: [{ name, domains: ['*'], routes: withoutHashPolicy(routesFor(snap, service.hostname, port)) }],
      });
    }
  }
  return out;
}

/**
 * RDS for one proxy. sidecar: the route config `outbound` with a virtual host per service port.
 * proxyless: one route config `<host>:<port>` per service port (domains `*`). router: none.
 */
export function generateRoutes(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  const configs = proxy.type === 'sidecar' ? sidecarRoutes(proxy, snap) : proxy.type === 'proxyless' ? proxylessRoutes(snap) : [];
  return configs.map((resource) => ({ name: resource.name, resource }));
}
