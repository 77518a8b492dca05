import { isHttpProtocol } from '../../common/service-protocol.ts';
import { PASSTHROUGH_CLUSTER, ROUTE_OUTBOUND } from '../../xds/naming.ts';
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
    for (const { port } of httpPorts(service)) virtual_hosts.push(sidecarVirtualHost(snap, service, port, proxy));
  }
  if (snap.outboundTrafficPolicy === 'REGISTRY_ONLY') virtual_hosts.push(blockAllVirtualHost());
  else if (proxy.interceptionMode === 'REDIRECT') virtual_hosts.push(ALLOW_ANY);
  return [{ '@type': TYPE_URL.route, name: ROUTE_OUTBOUND, virtual_hosts }];
}

/** One memo entry: the inputs a sidecar virtual host reads besides its service object, and the virtual host. */
interface VirtualHostEntry {
  /** Port, proxy namespace, domain suffix, and the proxy's labels when a match block reads them. */
  readonly key: string;
  /** Identities: the host's VirtualService, then each destination's service and DestinationRule. */
  readonly deps: readonly unknown[];
  readonly virtualHost: VirtualHost;
}

/** Entries kept per service object (ports × namespaces × label sets seen lately). */
const MEMO_ENTRIES_PER_SERVICE = 8;

const virtualHostMemo = new WeakMap<ServiceModel, VirtualHostEntry[]>();

function labelsText(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * What a sidecar virtual host of `service` on `port` is made of, for the memo: by value, the port,
 * the proxy's namespace (short domains, sourceNamespace), the domain suffix and, when some match
 * block of the host's VirtualService names sourceLabels, the proxy's labels; by identity, the
 * host's VirtualService, and the service object and DestinationRule of every host its routes
 * and mirrors lead to (destination ports, consistent-hash policies), or, without a
 * VirtualService, the host's own DestinationRule (the default route's hash policy).
 */
function virtualHostInputs(snap: Snapshot, service: ServiceModel, port: number, proxy: ProxyNode): { key: string; deps: unknown[] } {
  const vs = snap.virtualServices.get(service.hostname);
  const deps: unknown[] = [vs];
  let labels = false;
  if (vs && vs.spec.http.length > 0) {
    for (const http of vs.spec.http) {
      for (const d of http.route) deps.push(snap.services.get(d.destination.host), snap.destinationRules.get(d.destination.host));
      for (const m of http.mirrors) deps.push(snap.services.get(m.destination.host), snap.destinationRules.get(m.destination.host));
      if (http.match.some((m) => m.sourceLabels !== undefined)) labels = true;
    }
  } else deps.push(snap.destinationRules.get(service.hostname));
  return { key: `${port} ${proxy.namespace} ${snap.domainSuffix}${labels ? ` ${labelsText(proxy.labels)}` : ''}`, deps };
}

const sameDeps = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A sidecar's virtual host for one service port (`<host>:<port>`, Istio's short domains, the
 * routes of routesFor), memoised across snapshots by its inputs (virtualHostInputs): buildSnapshot
 * keeps unchanged service objects and the config stores unchanged config objects, so a config
 * change regenerates only the virtual hosts it touches, and the RouteConfiguration encoder, which
 * encodes per virtual host object (discovery-response-codec.ts), re-encodes only those. A hit is
 * the same object, shared between snapshots and proxies: callers never mutate it.
 */
export function sidecarVirtualHost(snap: Snapshot, service: ServiceModel, port: number, proxy: ProxyNode): VirtualHost {
  const { key, deps } = virtualHostInputs(snap, service, port, proxy);
  let entries = virtualHostMemo.get(service);
  const hit = entries?.find((e) => e.key === key && sameDeps(e.deps, deps));
  if (hit) return hit.virtualHost;
  const virtualHost: VirtualHost = Object.freeze({
    name: hostPortName(service.hostname, port),
    domains: sidecarDomains(service, port, proxy.namespace, snap.domainSuffix),
    routes: routesFor(snap, service.hostname, port, proxy),
  });
  if (!entries) {
    entries = [];
    virtualHostMemo.set(service, entries);
  }
  if (entries.length >= MEMO_ENTRIES_PER_SERVICE) entries.shift();
  entries.push({ key, deps, virtualHost });
  return virtualHost;
}

/**
 * Istio's catch-all for `outboundTrafficPolicy.mode: REGISTRY_ONLY`: the virtual host `block_all`
 * (domains `*`, so only hosts no other virtual host names reach it) answers 502 itself.
 */
function blockAllVirtualHost(): VirtualHost {
  return BLOCK_ALL;
}

/**
 * Istio's catch-all for `outboundTrafficPolicy.mode: ALLOW_ANY` on a capture proxy (the mesh
 * default): the virtual host `allow_any` sends a request whose Host no other virtual host names to
 * PassthroughCluster, i.e. to the original destination of the app's connection. One object for
 * every snapshot, so it is encoded once.
 */
const ALLOW_ANY: VirtualHost = Object.freeze({
  name: 'allow_any',
  domains: ['*'],
  routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER } }],
});

/** One object for every snapshot, so it is encoded once. */
const BLOCK_ALL: VirtualHost = Object.freeze({
  name: 'block_all',
  domains: ['*'],
  routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }],
});

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
