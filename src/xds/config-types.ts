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

/**
 * One `RouteAction.hash_policy` entry: what the router hashes into the request's hash key for
 * RING_HASH / MAGLEV clusters. `terminal`: stop at this policy when it produced a hash.
 */
export type HashPolicyConfig = (
  | { kind: 'header'; name: string }
  | { kind: 'cookie'; name: string; path?: string; ttlMs?: number }
  | { kind: 'source-ip' }
  | { kind: 'query'; name: string }
) & { terminal: boolean };

export interface RouteConfig {
  name: string;
  match: RouteMatchConfig;
  /** One entry with weight 1 for a single-cluster route. Weights are positive integers. */
  clusters: WeightedClusterConfig[];
  timeoutMs?: number;
  /** Set only when the route has a `hash_policy`. */
  hashPolicy?: HashPolicyConfig[];
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

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

/**
 * `outlier_detection` with Envoy's defaults filled in (consecutive_5xx 5 enforced at 100%,
 * consecutive_gateway_failure 5 enforced at 0%, interval 10 s, base ejection 30 s, max 10%).
 * Enforcing values are percentages: the chance that a detected outlier is really ejected.
 */
export interface OutlierDetectionConfig {
  consecutive5xx: number;
  enforcingConsecutive5xx: number;
  consecutiveGatewayFailure: number;
  enforcingConsecutiveGatewayFailure: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

/** `circuit_breakers.thresholds` of priority DEFAULT, with Envoy's defaults (1024, 1024, 1024, 3). */
export interface CircuitBreakerThresholds {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface ClusterConfig {
  name: string;
  type: 'EDS' | 'STATIC';
  /** EDS resource name to subscribe to (defaults to `name`). */
  edsServiceName: string;
  lbPolicy: LbPolicy;
  connectTimeoutMs: number;
  /** RING_HASH only (`ring_hash_lb_config`, hash function XX_HASH). */
  ringHash?: { minimumRingSize: number; maximumRingSize: number };
  /** MAGLEV only (`maglev_lb_config`). */
  maglev?: { tableSize: number };
  /** LEAST_REQUEST only (`least_request_lb_config`). */
  leastRequest?: { choiceCount: number };
  outlierDetection?: OutlierDetectionConfig;
  /** Absent: Envoy's default thresholds apply. */
  circuitBreakers?: CircuitBreakerThresholds;
  /** `common_lb_config.healthy_panic_threshold` in percent; absent: Envoy's default 50. */
  healthyPanicThresholdPercent?: number;
  /** `common_lb_config.locality_weighted_lb_config` is set. */
  localityWeightedLb?: boolean;
  /** Requests an upstream connection carries before it is closed. */
  maxRequestsPerConnection?: number;
  /** `common_http_protocol_options.idle_timeout`: close an upstream connection idle this long. */
  idleTimeoutMs?: number;
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
  /** The EDS locality, when it names one. */
  locality?: { region?: string; zone?: string; subZone?: string };
  /** The locality's `load_balancing_weight`, when set. */
  localityWeight?: number;
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
