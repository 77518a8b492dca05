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
  /**
   * SPIFFE trust domains whose peers the chain accepts (the mesh's and meshConfig
   * `trustDomainAliases`); absent: the proxy's own trust domain only.
   */
  trustDomains?: string[];
}

export interface HttpFilterChain {
  kind: 'http';
  name: string;
  /** SNI values this chain matches (empty: any). */
  serverNames: string[];
  /** `filter_chain_match.application_protocols` (ALPN offered by the client); absent: any. */
  applicationProtocols?: string[];
  /** Destination port this chain matches (inbound: the app port), if any. */
  destinationPort?: number;
  /**
   * `filter_chain_match.transport_protocol` (virtualInbound only): `tls` matches TLS connections
   * only, `raw_buffer` plaintext HTTP/2 ones only (PeerAuthentication PERMISSIVE or DISABLE, told
   * apart by the first bytes, src/sidecar/inbound-plaintext.ts); absent: any.
   */
  transportProtocol?: 'tls' | 'raw_buffer';
  /** Exactly one of `routeConfigName` (RDS) and `routes` (inline) is set. */
  routeConfigName?: string;
  routes?: RouteTable;
  tls?: DownstreamTls;
  /** True when the chain strips client XFCC and sets it to the verified peer (SANITIZE_SET). */
  setXfcc: boolean;
  /** The HCM's HTTP filters before the router (which is always last), in order. */
  httpFilters: HttpFilterConfig[];
  /** `upgrade_configs` lets websocket upgrades through (a route's `websocket` overrides it). */
  websocket?: boolean;
  /** `http2_protocol_options.allow_connect`: RFC 8441 extended CONNECT accepted from HTTP/2 peers. */
  allowConnect?: boolean;
  /**
   * Path normalization before routing and filters, from the HCM's `normalize_path`,
   * `merge_slashes` and `path_with_escaped_slashes_action` (Istio's meshConfig options); absent
   * when the HCM sets none of them: inbound chains then use Istio's default BASE, outbound ones NONE.
   */
  pathNormalization?: 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
}

/** One HTTP filter of a connection manager, identified by its config type URL. */
export interface HttpFilterConfig {
  name: string;
  typeUrl: string;
  /** The listener-level settings of a local rate limit filter. */
  localRateLimit?: LocalRateLimitConfig;
  /** The settings of an RBAC filter (`envoy.extensions.filters.http.rbac.v3.RBAC`). */
  rbac?: RbacFilterConfig;
  /** The settings of a JWT filter (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`). */
  jwtAuthn?: JwtAuthnFilterConfig;
}

/** An IP range of an RBAC rule (`config.core.v3.CidrRange`), as written. */
export interface CidrConfig {
  address: string;
  prefixLen: number;
}

/** Envoy's `config.rbac.v3.Permission`: what a request asks for. */
export type RbacPermission =
  | { kind: 'any' }
  | { kind: 'and' | 'or'; rules: RbacPermission[] }
  | { kind: 'not'; rule: RbacPermission }
  | { kind: 'header'; header: HeaderMatcherConfig }
  | { kind: 'urlPath'; match: StringMatcherConfig }
  | { kind: 'destinationIp'; cidr: CidrConfig }
  | { kind: 'destinationPort'; port: number }
  | { kind: 'requestedServerName'; match: StringMatcherConfig };

/** Envoy's `config.rbac.v3.Principal`: who sends the request. */
export type RbacPrincipal =
  | { kind: 'any' }
  | { kind: 'and' | 'or'; ids: RbacPrincipal[] }
  | { kind: 'not'; id: RbacPrincipal }
  /** The peer certificate's URI SAN (absent matcher: any authenticated peer). */
  | { kind: 'authenticated'; match?: StringMatcherConfig }
  | { kind: 'directRemoteIp' | 'remoteIp' | 'sourceIp'; cidr: CidrConfig }
  | { kind: 'header'; header: HeaderMatcherConfig }
  /** `metadata`: a string (or list element) at `path` in a filter's dynamic metadata. */
  | { kind: 'metadata'; filter: string; path: string[]; match: StringMatcherConfig };

/** One named policy: it matches when any permission and any principal match. */
export interface RbacPolicyConfig {
  name: string;
  permissions: RbacPermission[];
  principals: RbacPrincipal[];
}

/** Envoy's RBAC rules: `action` applies when a policy matches (ALLOW: and only then). */
export interface RbacRulesConfig {
  action: 'ALLOW' | 'DENY' | 'LOG';
  policies: RbacPolicyConfig[];
}

/** An RBAC filter: enforced `rules` and/or `shadowRules` (counted, never enforced). */
export interface RbacFilterConfig {
  rules?: RbacRulesConfig;
  shadowRules?: RbacRulesConfig;
  /** Prefix of the filter's stats (`<statPrefix>rbac.allowed`). */
  statPrefix: string;
  /** `shadow_rules_stat_prefix`. */
  shadowRulesStatPrefix: string;
}

/**
 * Envoy's local rate limit (`envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`), on
 * the HCM filter (every route without its own) or on a route (its own token bucket).
 */
export interface LocalRateLimitConfig {
  statPrefix: string;
  /** Status of a limited request's reply: Envoy's 429 unless a status >= 400 is set. */
  status: number;
  /** Required on a route; a listener-level config without one limits nothing itself. */
  tokenBucket?: { maxTokens: number; tokensPerFill: number; fillIntervalMs: number };
  /** Share of requests checked (`filter_enabled`; Envoy's default 0). */
  enabledPerMillion: number;
  /** Share of checked requests over the limit that are rejected (`filter_enforced`; default 0). */
  enforcedPerMillion: number;
  /** `response_headers_to_add`, on limited responses. */
  responseHeaders?: HeaderOpsConfig;
}

/** One upstream cluster of a tcp_proxy, with its share (weight 1 for a single `cluster`). */
export interface TcpClusterWeight {
  name: string;
  weight: number;
}

/**
 * A filter chain ending in `envoy.filters.network.tcp_proxy`: bytes go to one of `clusters`
 * (`cluster`, or `weighted_clusters` picked per connection by weight).
 */
export interface TcpFilterChain {
  kind: 'tcp';
  name: string;
  serverNames: string[];
  destinationPort?: number;
  /** `filter_chain_match.application_protocols` (ALPN offered by the client; empty: any). */
  applicationProtocols: string[];
  /**
   * `filter_chain_match.transport_protocol` (virtualInbound only): `tls` matches mesh mTLS
   * connections only, `raw_buffer` plaintext ones only (PERMISSIVE raw TCP); absent: any.
   */
  transportProtocol?: 'tls' | 'raw_buffer';
  /**
   * Network RBAC filters before the tcp_proxy (`envoy.filters.network.rbac`, AuthorizationPolicy
   * on a TCP port), in order; each decides once per connection, before any byte is proxied.
   */
  rbac?: { statPrefix: string; rules: RbacRulesConfig }[];
  statPrefix: string;
  /** At least one; `weighted` tells `weighted_clusters` from a single `cluster`. */
  clusters: TcpClusterWeight[];
  weighted: boolean;
  /** `idle_timeout`: Envoy's default 1 h when unset; 0 disables it. */
  idleTimeoutMs: number;
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
  /**
   * virtualOutbound of a capture proxy (`use_original_dst`): each connection's original
   * destination port picks a `bindToPort: false` listener; without one, virtualOutbound's own
   * chain for that `destinationPort`, else its default chain (HTTP routed by Host, or a tcp_proxy
   * such as PassthroughCluster's).
   */
  useOriginalDst?: true;
  /** `bind_to_port: false`: not bound; reached only through virtualOutbound's original destination. */
  bindToPort?: false;
}

/**
 * Envoy's StringMatcher: exactly one of exact/prefix/suffix/contains/regex. `regex` is a full match
 * (RE2 syntax as far as JavaScript shares it: validators refuse what JavaScript cannot compile).
 */
export interface StringMatcherConfig {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  regex?: RegExp;
  ignoreCase: boolean;
}

/** A header matcher; `name` is lower-case and may be a pseudo-header (`:method`, `:authority`, `:scheme`). */
export interface HeaderMatcherConfig {
  name: string;
  /** Absent with `present`: the header only has to be there (or, inverted, absent). */
  match?: StringMatcherConfig;
  present?: boolean;
  /** Envoy `invert_match` (Istio `withoutHeaders`). */
  invert: boolean;
}

export interface QueryParameterMatcherConfig {
  name: string;
  match?: StringMatcherConfig;
  present?: boolean;
}

export interface RouteMatchConfig {
  /** Exactly one of prefix, path and regex. */
  prefix?: string;
  path?: string;
  regex?: RegExp;
  /** False: prefix/path compare case-insensitively (Istio `ignoreUriCase`). */
  caseSensitive: boolean;
  headers: HeaderMatcherConfig[];
  queryParameters: QueryParameterMatcherConfig[];
}

/** Header edits: `set` replaces, `add` appends, `remove` deletes (names lower-case). */
export interface HeaderOpsConfig {
  set: [string, string][];
  add: [string, string][];
  remove: string[];
}

export interface WeightedClusterConfig {
  name: string;
  weight: number;
  requestHeaders?: HeaderOpsConfig;
  responseHeaders?: HeaderOpsConfig;
}

/** Envoy RetryPolicy, as far as meshfed honours it. */
export interface RetryPolicyConfig {
  /** Envoy x-envoy-retry-on / x-envoy-retry-grpc-on conditions. */
  retryOn: ReadonlySet<string>;
  numRetries: number;
  perTryTimeoutMs?: number;
  retriableStatusCodes: readonly number[];
  /** `envoy.retry_host_predicates.previous_hosts`: a retry avoids hosts already tried. */
  avoidPreviousHosts: boolean;
  hostSelectionRetryMaxAttempts: number;
  /**
   * `envoy.retry_priorities.previous_priorities`'s `update_frequency`: every this many attempts,
   * the priorities of the attempts so far are excluded from the priority load (Istio's
   * `retryRemoteLocalities`). Absent: retries use the normal priority load.
   */
  previousPrioritiesUpdateFrequency?: number;
}

/** A request mirror: a copy of the request goes to `cluster`, its response is dropped. */
export interface MirrorPolicyConfig {
  cluster: string;
  /** Share of requests mirrored, per million. */
  perMillion: number;
}

export interface RewriteConfig {
  /** Replaces the matched prefix (route prefix match) or the whole path (path match). */
  prefix?: string;
  regex?: { pattern: RegExp; substitution: string };
  host?: string;
}

export interface RedirectConfig {
  scheme?: string;
  host?: string;
  port?: number;
  path?: string;
  prefixRewrite?: string;
  responseCode: 301 | 302 | 303 | 307 | 308;
  stripQuery: boolean;
}

/** `envoy.extensions.filters.http.fault.v3.HTTPFault`, per route. */
export interface FaultConfig {
  delay?: { ms: number; perMillion: number };
  abort?: { httpStatus?: number; grpcStatus?: number; perMillion: number };
}

/** `envoy.extensions.filters.http.cors.v3.CorsPolicy`, per route. */
export interface CorsPolicyConfig {
  allowOrigins: StringMatcherConfig[];
  allowMethods?: string;
  allowHeaders?: string;
  exposeHeaders?: string;
  maxAge?: string;
  allowCredentials?: boolean;
}

/** Per-route configuration of the HTTP filters, by the filter's config type. */
export interface PerFilterConfig {
  fault?: FaultConfig;
  cors?: CorsPolicyConfig;
  localRateLimit?: LocalRateLimitConfig;
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
  /**
   * A forwarding route has clusters (one entry with weight 1 for a single-cluster route; weights
   * are positive integers). A redirect or direct-response route has none and sets that action.
   */
  clusters: WeightedClusterConfig[];
  redirect?: RedirectConfig;
  directResponse?: { status: number; body?: string };
  timeoutMs?: number;
  /** RouteAction `upgrade_configs` websocket entry: overrides the chain's `websocket`. */
  websocket?: boolean;
  retry?: RetryPolicyConfig;
  mirrors: MirrorPolicyConfig[];
  rewrite?: RewriteConfig;
  requestHeaders?: HeaderOpsConfig;
  responseHeaders?: HeaderOpsConfig;
  perFilter: PerFilterConfig;
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
  /** SNI to send; for cross-cluster traffic it is `outbound_.<port>_.<subset>_.<host>`. Empty: none. */
  sni: string;
  alpn: string[];
  /**
   * Absent: mesh mTLS (SDS secrets, resolved to the proxy's Citadel material; SPIFFE identity
   * checked). Set: TLS origination toward a non-mesh server with files read by the proxy.
   */
  origination?: OriginationTls;
  /**
   * Mesh mTLS only: the server's leaf must carry a URI SAN matching one of these (Envoy's
   * `match_typed_subject_alt_names`, from a `combined_validation_context`). Absent: any SPIFFE
   * ID of the mesh is accepted.
   */
  serverSans?: UriSanMatcher[];
}

/** One URI SAN matcher of mesh mTLS: the SAN equals `value` (exact) or starts with it (prefix). */
export interface UriSanMatcher {
  kind: 'exact' | 'prefix';
  value: string;
}

/**
 * TLS toward an external server (`tls_certificates` / `validation_context` with file data
 * sources). Without `caFile` the server is not verified (Envoy without a validation context);
 * with it, the chain must reach those roots and, when `subjectAltNames` is not empty, the
 * certificate must carry one of them (its hostname is not checked otherwise).
 */
export interface OriginationTls {
  caFile?: string;
  /** Client certificate chain and key (MUTUAL). */
  certFile?: string;
  keyFile?: string;
  subjectAltNames: { type: 'DNS' | 'URI'; value: string }[];
}

/** STRICT_DNS / LOGICAL_DNS resolution settings of a cluster. */
export interface DnsResolutionConfig {
  /** `dns_refresh_rate`; Envoy's default 5 s. */
  refreshRateMs: number;
  /** `respect_dns_ttl`: re-resolve after the answer's TTL when it is above 0. */
  respectTtl: boolean;
  /** c-ares resolvers from `typed_dns_resolver_config`; empty: the system resolver. */
  resolvers: SocketAddr[];
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
  /**
   * ORIGINAL_DST (lb_policy CLUSTER_PROVIDED, Istio's PassthroughCluster): no endpoints; a tcp_proxy
   * of a capture proxy's virtualOutbound dials the connection's original destination. `lbPolicy`
   * then reads ROUND_ROBIN and is not used.
   */
  type: 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
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
  /**
   * `typed_extension_protocol_options` HttpProtocolOptions with `http2_protocol_options`: speak
   * HTTP/2 to the endpoints (h2c to a plaintext app; the mesh leg is HTTP/2 anyway). Absent: HTTP/1.1.
   */
  upstreamHttp2?: { allowConnect: boolean };
  /** Inbound clusters: the service host the workload serves on this port (cluster metadata `meshfed.service`), for telemetry. */
  serviceHost?: string;
  /** Set when the upstream speaks mesh mTLS. */
  tls?: UpstreamTls;
  /** STATIC, STRICT_DNS and LOGICAL_DNS clusters carry their endpoints inline (DNS ones: hostnames). */
  staticEndpoints?: EndpointConfig[];
  /** STRICT_DNS / LOGICAL_DNS only. */
  dns?: DnsResolutionConfig;
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
  /**
   * `meshfed.sni`: the endpoint-qualified SNI to send instead of the cluster's service SNI (a
   * remote endpoint behind its cluster's gateway). Only on `tlsMode: istio` endpoints.
   */
  sni?: string;
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

/** One provider of a JWT filter (`JwtProvider`), as the sidecar verifies with it. */
export interface JwtProviderConfig {
  name: string;
  issuer: string;
  /** Empty: any audience. */
  audiences: string[];
  /** The inline JSON Web Key Set (`local_jwks.inline_string`), parsed. */
  jwks: { keys: Record<string, unknown>[] };
  /** Where tokens are read: lower-case header names with a value prefix, and query parameters. */
  fromHeaders: { name: string; prefix: string }[];
  fromParams: string[];
  /** Keep the token header on the request (`forward`); false: removed once verified. */
  forward: boolean;
  /** Header to write the verified payload into (base64url JSON). */
  forwardPayloadHeader?: string;
  /** Header name → claim (nested claims joined by `.`). */
  claimToHeaders: { header: string; claim: string }[];
}

/**
 * The settings of a JWT filter (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`)
 * in the one shape meshfed runs (Istio's): every path requires any of `providers` or, with
 * `allowMissing`, no token at all.
 */
export interface JwtAuthnFilterConfig {
  providers: JwtProviderConfig[];
  allowMissing: boolean;
}
