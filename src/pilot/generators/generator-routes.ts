import { isHttpProtocol } from '../../common/service-protocol.ts';
import { ROUTE_OUTBOUND } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { Route, RouteConfiguration, VirtualHost, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { HttpMatchRequest, HttpRoute } from '../config/config-types.ts';
import type { ServiceModel, Snapshot } from '../model/snapshot.ts';
import { envoyRoute, type RouteOptions } from './generator-route-action.ts';

/** `reviews.default.svc.cluster.local:9080`: the virtual host (sidecar) and route config (proxyless) name. */
export function hostPortName(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

/**
 * Domains a sidecar's app may use for a service port (Istio's short forms): the FQDN,
 * `name.ns.svc`, `name.ns`, and `name` when the proxy is in the service's namespace; each with
 * `:port`, and also without a port on the service's lowest HTTP port only (so that one route
 * config never lists a domain twice).
 */
export function sidecarDomains(service: ServiceModel, port: number, proxyNamespace: string, domainSuffix: string): string[] {
  const names = [service.hostname];
  if (service.hostname === `${service.name}.${service.namespace}.svc.${domainSuffix}`) {
    names.push(`${service.name}.${service.namespace}.svc`, `${service.name}.${service.namespace}`);
    if (proxyNamespace === service.namespace) names.push(service.name);
  }
  const portless = httpPorts(service)[0]?.port === port;
  return names.flatMap((n) => (portless ? [n, `${n}:${port}`] : [`${n}:${port}`]));
}

/** The ports of a service that carry HTTP (RDS); tcp and tls ports get tcp_proxy listeners instead. */
export function httpPorts(service: ServiceModel): ServiceModel['ports'] {
  return service.ports.filter((p) => isHttpProtocol(p.protocol));
}

/** Whether a match block applies to this proxy on this service port (port, sourceLabels, sourceNamespace). */
function appliesTo(m: HttpMatchRequest, proxy: ProxyNode | undefined, port: number): boolean {
  if (m.port !== undefined && m.port !== port) return false;
  if (m.sourceNamespace !== undefined && proxy?.namespace !== m.sourceNamespace) return false;
  if (m.sourceLabels !== undefined) {
    for (const [k, v] of Object.entries(m.sourceLabels)) if (proxy?.labels[k] !== v) return false;
  }
  return true;
}

/**
 * Routes of one service port for one proxy: the host's VirtualService (one route per match block
 * that applies to the proxy and port, in order; a rule without match blocks matches everything; a
 * rule whose blocks all exclude the proxy is left out), or a single default route to
 * `outbound|<port>||<host>` with Istio's default retry policy.
 */
export function routesFor(snap: Snapshot, hostname: string, port: number, proxy?: ProxyNode, opts: RouteOptions = { cors: true, hashPolicy: true }): Route[] {
  const vs = snap.virtualServices.get(hostname);
  const rules: readonly HttpRoute[] = vs && vs.spec.http.length > 0
    ? vs.spec.http
    : [{ match: [], route: [{ destination: { host: hostname, subset: '', port }, weight: 100 }], mirrors: [] }];
  const routes: Route[] = [];
  for (const http of rules) {
    let matches: (HttpMatchRequest | undefined)[] = http.match.length > 0 ? http.match.filter((m) => appliesTo(m, proxy, port)) : [undefined];
    // A gRPC call has no query string, so a block with queryParams never matches one; grpc-js-xds
    // would ignore query_parameters and match every call, so such blocks are left out for it.
    if (opts.proxyless) matches = matches.filter((m) => m === undefined || Object.keys(m.queryParams).length === 0);
    for (const m of matches) routes.push(envoyRoute(snap, http, m, hostname, port, opts));
  }
  if ((!vs || vs.spec.http.length === 0) && routes[0]) routes[0].name = 'default';
  return routes;
}

function sidecarRoutes(proxy: ProxyNode, snap: Snapshot): RouteConfiguration[] {
  const virtual_hosts: VirtualHost[] = [];
  for (const service of snap.services.values()) {
    for (const { port } of httpPorts(service)) {
      virtual_hosts.push({
        name: hostPortName(service.hostname, port),
        domains: sidecarDomains(service, port, proxy.namespace, snap.domainSuffix),
        routes: routesFor(snap, service.hostname, port, proxy),
      });
    }
  }
  if (snap.outboundTrafficPolicy === 'REGISTRY_ONLY') virtual_hosts.push(blockAllVirtualHost());
  return [{ '@type': TYPE_URL.route, name: ROUTE_OUTBOUND, virtual_hosts }];
}

/**
 * Istio's catch-all for `outboundTrafficPolicy.mode: REGISTRY_ONLY`: the virtual host `block_all`
 * (domains `*`, so only hosts no other virtual host names reach it) answers 502 itself.
 */
function blockAllVirtualHost(): VirtualHost {
  return { name: 'block_all', domains: ['*'], routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }] };
}

function proxylessRoutes(proxy: ProxyNode, snap: Snapshot): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  for (const service of snap.services.values()) {
    for (const { port } of httpPorts(service)) {
      const name = hostPortName(service.hostname, port);
      out.push({
        '@type': TYPE_URL.route,
        name,
        virtual_hosts: [{ name, domains: ['*'], routes: routesFor(snap, service.hostname, port, proxy, { cors: false, hashPolicy: true, proxyless: true }) }],
      });
    }
  }
  return out;
}

/**
 * RDS for one proxy. sidecar: the route config `outbound` with a virtual host per service port.
 * proxyless: one route config `<host>:<port>` per service port (domains `*`), without CORS (the
 * client has no CORS filter), with hash policies for ring-hash clusters, the timeout also as
 * `max_stream_duration`, and without match blocks on query parameters (they never match a gRPC
 * call). What the client ignores is reported by proxylessFindings. router: none.
 */
export function generateRoutes(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  const configs = proxy.type === 'sidecar' ? sidecarRoutes(proxy, snap) : proxy.type === 'proxyless' ? proxylessRoutes(proxy, snap) : [];
  return configs.map((resource) => ({ name: resource.name, resource }));
}
