import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  ClusterConfig,
  ClusterLoadAssignmentConfig,
  EndpointConfig,
  ListenerConfig,
  ProxyConfig,
  RouteConfig,
  RouteMatchConfig,
  RouteTable,
} from '../../src/xds/config-types.ts';
import { inboundClusterName, LISTENER, outboundClusterName, ROUTE_OUTBOUND, serviceHostname, sniFor } from '../../src/xds/naming.ts';

/** Builders of normalized xDS config for sidecar tests (the shapes Pilot's validators produce). */

export function proxyConfig(parts: {
  listeners?: ListenerConfig[];
  routes?: RouteTable[];
  clusters?: ClusterConfig[];
  endpoints?: ClusterLoadAssignmentConfig[];
  version?: string;
}): ProxyConfig {
  const v = parts.version ?? '1';
  return {
    listeners: new Map((parts.listeners ?? []).map((l) => [l.name, l])),
    routes: new Map((parts.routes ?? []).map((r) => [r.name, r])),
    clusters: new Map((parts.clusters ?? []).map((c) => [c.name, c])),
    endpoints: new Map((parts.endpoints ?? []).map((e) => [e.clusterName, e])),
    versions: { listener: v, route: v, cluster: v, endpoint: v },
  };
}

export function outboundListener(host: string, port = 15001): ListenerConfig {
  return {
    name: LISTENER.virtualOutbound,
    address: { host, port },
    direction: 'OUTBOUND',
    tlsInspector: false,
    filterChains: [{ kind: 'http', name: 'virtualOutbound-http', serverNames: [], routeConfigName: ROUTE_OUTBOUND, setXfcc: false, httpFilters: [] }],
  };
}

/** A route match: prefix `/` unless `m` says otherwise; case-sensitive; no header or query matchers. */
export function match(m: Partial<RouteMatchConfig> = {}): RouteMatchConfig {
  return { ...(m.path === undefined && m.regex === undefined ? { prefix: '/' } : {}), caseSensitive: true, headers: [], queryParameters: [], ...m };
}

export function route(name: string, cluster: string, extra: Partial<RouteConfig> = {}): RouteConfig {
  return { name, match: match(), clusters: [{ name: cluster, weight: 1 }], mirrors: [], perFilter: {}, ...extra };
}

/** Inbound listener with an mTLS chain and a plaintext twin (PERMISSIVE) per app port, each routing `*` to `inbound|<port>||`. */
export function inboundListener(host: string, appPorts: number[], port = 15006): ListenerConfig {
  return {
    name: LISTENER.virtualInbound,
    address: { host, port },
    direction: 'INBOUND',
    tlsInspector: true,
    filterChains: appPorts.flatMap((p) => {
      const chain = {
        kind: 'http' as const,
        name: `inbound|${p}`,
        serverNames: [],
        destinationPort: p,
        routes: {
          name: `inbound|${p}`,
          virtualHosts: [{ name: 'inbound', domains: ['*'], routes: [route('default', inboundClusterName(p))] }],
        },
        setXfcc: true,
        httpFilters: [],
      };
      // PeerAuthentication PERMISSIVE (Pilot's default): the mTLS chain and its plaintext twin.
      return [
        { ...chain, transportProtocol: 'tls' as const, tls: { requireClientCertificate: true, alpn: ['h2'] } },
        { ...chain, name: `inbound|${p}-plaintext`, transportProtocol: 'raw_buffer' as const },
      ];
    }),
  };
}

export function endpoint(host: string, port: number, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  return { address: { host, port }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0, ...extra };
}

export function inboundCluster(appHost: string, appPort: number): ClusterConfig {
  return {
    name: inboundClusterName(appPort),
    type: 'STATIC',
    edsServiceName: inboundClusterName(appPort),
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 1000,
    staticEndpoints: [endpoint(appHost, appPort)],
  };
}

/** An EDS cluster for `<name>.<ns>.svc.cluster.local:<port>`, mTLS with the mesh SNI. */
export function meshCluster(service: string, namespace: string, port: number): ClusterConfig {
  const host = serviceHostname(service, namespace);
  const name = outboundClusterName(port, '', host);
  return {
    name,
    type: 'EDS',
    edsServiceName: name,
    lbPolicy: 'ROUND_ROBIN',
    connectTimeoutMs: 1000,
    tls: { sni: sniFor(port, '', host), alpn: ['h2'] },
  };
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One HTTP/1.1 request on a fresh connection. */
export function httpRequest(
  target: { host: string; port: number },
  opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {},
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.host, port: target.port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Listens on host:port (0 for ephemeral) and returns the bound port. */
export function listenOn(server: http.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

export function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
