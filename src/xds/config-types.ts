/**
 * The proxies' normalized view of xDS, produced by the validators in src/xds/validate/ from decoded
 * Envoy resources. The sidecar and the east-west gateway consume only these shapes, never raw
 * protobuf objects. Every field here has been checked; consumers trust it.
 */

export interface SocketAddr {
  host: string;
  port: number;
}

/** TLS a listener demands of its clients (secrets resolve to the proxy's Citadel material). */
export interface DownstreamTls {
  requireClientCertificate: boolean;
  alpn: string[];
}

export interface HttpFilterChain {
  kind: 'http';
  name: string;
  /** SNI values this chain matches (empty: any). */
  serverNames: string[];
  /** Destination port this chain matches (inbound: the app port), if any. */
  destinationPort?: number;
  /** Exactly one of `routeConfigName` (RDS) and `routes` (inline) is set. */
  routeConfigName?: string;
  routes?: RouteTable;
  tls?: DownstreamTls;
  /** True when the chain strips client XFCC and sets it to the verified peer (SANITIZE_SET). */
  setXfcc: boolean;
}

export interface TcpFilterChain {
  kind: 'tcp';
  name: string;
  serverNames: string[];
  destinationPort?: number;
  cluster: string;
  tls?: DownstreamTls;
}

export type FilterChainConfig = HttpFilterChain | TcpFilterChain;

export interface ListenerConfig {
  name: string;
  /** Absent for proxyless api listeners. */
  address?: SocketAddr;
  direction?: 'INBOUND' | 'OUTBOUND';
  filterChains: FilterChainConfig[];
  /** True when the listener sniffs the ClientHello (tls_inspector) to match `serverNames`. */
  tlsInspector: boolean;
}

export interface RouteMatchConfig {
  prefix?: string;
  path?: string;
  headers: { name: string; exact?: string; prefix?: string }[];
}

export interface WeightedClusterConfig {
  name: string;
  weight: number;
}

export interface RouteConfig {
  name: string;
  match: RouteMatchConfig;
  /** One entry with weight 1 for a single-cluster route. Weights are positive integers. */
  clusters: WeightedClusterConfig[];
  timeoutMs?: number;
}

export interface VirtualHostConfig {
  name: string;
  /** Lower-case; `*` matches any host; entries may carry a `:port`. */
  domains: string[];
  routes: RouteConfig[];
}

export interface RouteTable {
  name: string;
  virtualHosts: VirtualHostConfig[];
}

export interface UpstreamTls {
  /** SNI to send; for cross-cluster traffic it is `outbound_.<port>_.<subset>_.<host>`. */
  sni: string;
  alpn: string[];
}

export interface ClusterConfig {
  name: string;
  type: 'EDS' | 'STATIC';
  /** EDS resource name to subscribe to (defaults to `name`). */
  edsServiceName: string;
  lbPolicy: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
  connectTimeoutMs: number;
  /** Set when the upstream speaks mesh mTLS. */
  tls?: UpstreamTls;
  /** STATIC clusters carry their endpoints inline. */
  staticEndpoints?: EndpointConfig[];
}

export interface EndpointConfig {
  address: SocketAddr;
  weight: number;
  healthy: boolean;
  /** `istio.tlsMode`: `istio` when the endpoint speaks mesh mTLS. */
  tlsMode: 'istio' | 'disabled';
  /** `istio.cluster_id`: the cluster the endpoint (or the workloads behind a gateway) lives in. */
  cluster?: string;
  /** `meshfed.inbound_port`: dial this port instead of `address.port` (sidecar capture). */
  inboundPort?: number;
  workload?: string;
  namespace?: string;
  priority: number;
}

export interface ClusterLoadAssignmentConfig {
  clusterName: string;
  endpoints: EndpointConfig[];
}

/** Everything a proxy currently holds, with the version of each type it last ACKed. */
export interface ProxyConfig {
  listeners: ReadonlyMap<string, ListenerConfig>;
  routes: ReadonlyMap<string, RouteTable>;
  clusters: ReadonlyMap<string, ClusterConfig>;
  endpoints: ReadonlyMap<string, ClusterLoadAssignmentConfig>;
  versions: Readonly<Record<'listener' | 'route' | 'cluster' | 'endpoint', string>>;
}
