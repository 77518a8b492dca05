import type { TYPE_URL, TYPED_CONFIG } from './type-urls.ts';
import type { ProtoStruct } from './struct.ts';

/**
 * The subset of Envoy's v3 resources that meshfed generates, typed with proto field names
 * (keepCase). Generators return these; proto-loader packs `@type` objects into `Any`. Field names
 * here must match the .proto files exactly: protobufjs drops unknown fields silently, so a round-trip
 * test (encode → decode → compare) guards every generator.
 */

export interface SocketAddress {
  address: string;
  port_value: number;
}
export interface Address {
  socket_address: SocketAddress;
}
export interface UInt32Value {
  value: number;
}
export interface BoolValue {
  value: boolean;
}
export interface Duration {
  seconds: string;
  nanos?: number;
}
export interface Metadata {
  filter_metadata: Record<string, ProtoStruct>;
}
export interface AdsConfigSource {
  ads: Record<string, never>;
  resource_api_version?: 'V3';
}

export interface SdsSecretConfig {
  name: string;
  sds_config?: AdsConfigSource;
}

/** A file-backed `envoy.config.core.v3.DataSource`. */
export interface FileDataSource {
  filename: string;
}

/** `envoy.extensions.transport_sockets.tls.v3.SubjectAltNameMatcher` with an exact (or, for URIs, prefix) matcher. */
export interface SubjectAltNameMatcher {
  san_type: 'DNS' | 'URI';
  matcher: { exact: string } | { prefix: string };
}

/**
 * `CombinedCertificateValidationContext`, Istio's shape for ISTIO_MUTUAL clusters: the roots over
 * SDS (`ROOTCA`) and, in the static part, the SPIFFE IDs the server may carry.
 */
export interface CombinedValidationContext {
  default_validation_context: { match_typed_subject_alt_names: SubjectAltNameMatcher[] };
  validation_context_sds_secret_config: SdsSecretConfig;
}

/**
 * Either mesh material over SDS (`default` / `ROOTCA`, Citadel's) or, for TLS origination toward
 * external services, files: `tls_certificates` (client certificate) and `validation_context`.
 */
export interface CommonTlsContext {
  /** `default`: the workload certificate from Citadel. */
  tls_certificate_sds_secret_configs?: SdsSecretConfig[];
  /** `ROOTCA`: the trust bundle. */
  validation_context_sds_secret_config?: SdsSecretConfig;
  /**
   * Instead of `validation_context_sds_secret_config`: on outbound clusters, the server's SPIFFE IDs
   * when they are known; on inbound mesh chains, the peers' accepted SPIFFE trust domains (URI SAN
   * prefixes `spiffe://<td>/`: the mesh's and meshConfig `trustDomainAliases`).
   */
  combined_validation_context?: CombinedValidationContext;
  tls_certificates?: { certificate_chain: FileDataSource; private_key: FileDataSource }[];
  validation_context?: { trusted_ca?: FileDataSource; match_typed_subject_alt_names?: SubjectAltNameMatcher[] };
  alpn_protocols?: string[];
}

export interface DownstreamTlsContext {
  '@type': typeof TYPED_CONFIG.downstreamTls;
  common_tls_context: CommonTlsContext;
  require_client_certificate?: BoolValue;
}

export interface UpstreamTlsContext {
  '@type': typeof TYPED_CONFIG.upstreamTls;
  common_tls_context: CommonTlsContext;
  sni?: string;
}

export interface TransportSocket<T> {
  name: 'envoy.transport_sockets.tls';
  typed_config: T;
}

// ---- RDS ----

export interface StringMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  safe_regex?: { regex: string };
  ignore_case?: boolean;
}
export interface HeaderMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
  invert_match?: boolean;
}
export interface QueryParameterMatcher {
  name: string;
  string_match?: StringMatcher;
  present_match?: boolean;
}
export interface RouteMatch {
  prefix?: string;
  path?: string;
  safe_regex?: { regex: string };
  case_sensitive?: BoolValue;
  headers?: HeaderMatcher[];
  query_parameters?: QueryParameterMatcher[];
}
export interface HeaderValueOption {
  header: { key: string; value: string };
  append_action?: 'APPEND_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS_OR_ADD';
}
export interface HeaderEdits {
  request_headers_to_add?: HeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOption[];
  response_headers_to_remove?: string[];
}
export interface WeightedCluster extends HeaderEdits {
  name: string;
  weight: UInt32Value;
}
export interface FractionalPercent {
  numerator: number;
  denominator?: 'HUNDRED' | 'TEN_THOUSAND' | 'MILLION';
}
export interface RetryPolicy {
  retry_on: string;
  num_retries: UInt32Value;
  per_try_timeout?: Duration;
  retriable_status_codes?: number[];
  retry_host_predicate?: { name: string; typed_config: { '@type': string } }[];
  retry_priority?: { name: string; typed_config: { '@type': string; update_frequency: number } };
  host_selection_retry_max_attempts?: string;
}
/** `RouteAction.HashPolicy` (one of header, cookie, connection_properties, query_parameter). */
export interface HashPolicy {
  header?: { header_name: string };
  cookie?: { name: string; path?: string; ttl?: Duration };
  connection_properties?: { source_ip: boolean };
  query_parameter?: { name: string };
  terminal?: boolean;
}
export interface RouteAction {
  cluster?: string;
  weighted_clusters?: { clusters: WeightedCluster[] };
  timeout?: Duration;
  /** The timeout proxyless gRPC clients read (gRFC A31); `timeout` is Envoy's. */
  max_stream_duration?: { max_stream_duration?: Duration };
  retry_policy?: RetryPolicy;
  request_mirror_policies?: { cluster: string; runtime_fraction?: { default_value: FractionalPercent } }[];
  prefix_rewrite?: string;
  regex_rewrite?: { pattern: { regex: string }; substitution: string };
  host_rewrite_literal?: string;
  hash_policy?: HashPolicy[];
}
export interface RedirectAction {
  scheme_redirect?: string;
  host_redirect?: string;
  port_redirect?: number;
  path_redirect?: string;
  response_code?: 'MOVED_PERMANENTLY' | 'FOUND' | 'SEE_OTHER' | 'TEMPORARY_REDIRECT' | 'PERMANENT_REDIRECT';
}
export interface Route extends HeaderEdits {
  name?: string;
  match: RouteMatch;
  route?: RouteAction;
  redirect?: RedirectAction;
  direct_response?: { status: number; body?: { inline_string: string } };
  typed_per_filter_config?: Record<string, { '@type': string } & Record<string, unknown>>;
}
export interface VirtualHost {
  name: string;
  domains: string[];
  routes: Route[];
}
export interface RouteConfiguration {
  '@type': typeof TYPE_URL.route;
  name: string;
  virtual_hosts: VirtualHost[];
}

// ---- LDS ----

export interface RouterFilter {
  name: 'envoy.filters.http.router';
  typed_config: { '@type': typeof TYPED_CONFIG.router };
}

/** An HTTP filter before the router; its settings are per route (`typed_per_filter_config`) or, for some filters, its own. */
export interface HttpFilter {
  name: string;
  typed_config: { '@type': string } & Record<string, unknown>;
}

export interface HttpConnectionManager {
  '@type': typeof TYPED_CONFIG.httpConnectionManager;
  stat_prefix: string;
  codec_type?: 'AUTO' | 'HTTP1' | 'HTTP2';
  rds?: { route_config_name: string; config_source: AdsConfigSource };
  route_config?: Omit<RouteConfiguration, '@type'>;
  http_filters: (HttpFilter | RouterFilter)[];
  /** Inbound: SANITIZE_SET strips any client XFCC and sets one with the verified peer. */
  forward_client_cert_details?: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  set_current_client_cert_details?: { uri?: boolean; subject?: boolean };
  /** The upgrades let through (meshfed: websocket). */
  upgrade_configs?: UpgradeConfig[];
  /** Inbound: `allow_connect` accepts RFC 8441 extended CONNECT (websocket over the mesh's HTTP/2). */
  http2_protocol_options?: { allow_connect?: boolean };
  /** RFC 3986 normalization of the path before routing and filters (meshConfig pathNormalization BASE and up). */
  normalize_path?: { value: boolean };
  /** Runs of `/` merged (MERGE_SLASHES and up). */
  merge_slashes?: boolean;
  /** `%2F` / `%5C` handling; UNESCAPE_AND_FORWARD decodes them (DECODE_AND_MERGE_SLASHES). */
  path_with_escaped_slashes_action?: 'KEEP_UNCHANGED' | 'UNESCAPE_AND_FORWARD';
}

/** `HttpConnectionManager.UpgradeConfig` / `RouteAction.UpgradeConfig`. */
export interface UpgradeConfig {
  upgrade_type: 'websocket';
  enabled?: { value: boolean };
}

/** `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`: exactly one of `cluster` and `weighted_clusters`. */
export interface TcpProxy {
  '@type': typeof TYPED_CONFIG.tcpProxy;
  stat_prefix: string;
  cluster?: string;
  /** Weights are plain uint32 here (not wrappers), at least 1. */
  weighted_clusters?: { clusters: { name: string; weight: number }[] };
  idle_timeout?: Duration;
}

export type NetworkFilter =
  | { name: 'envoy.filters.network.http_connection_manager'; typed_config: HttpConnectionManager }
  | { name: 'envoy.filters.network.tcp_proxy'; typed_config: TcpProxy }
  | { name: 'envoy.filters.network.rbac'; typed_config: NetworkRbac };

/** `envoy.extensions.filters.network.rbac.v3.RBAC`: AuthorizationPolicy on a TCP chain. */
export interface NetworkRbac {
  '@type': typeof TYPED_CONFIG.networkRbac;
  stat_prefix: string;
  rules: { action: 'ALLOW' | 'DENY' | 'LOG'; policies: Record<string, unknown> };
}

export interface FilterChainMatch {
  server_names?: string[];
  destination_port?: UInt32Value;
  transport_protocol?: string;
  application_protocols?: string[];
}

export interface FilterChain {
  name?: string;
  filter_chain_match?: FilterChainMatch;
  filters: NetworkFilter[];
  transport_socket?: TransportSocket<DownstreamTlsContext>;
}

export interface ListenerFilter {
  name: 'envoy.filters.listener.tls_inspector';
  typed_config: { '@type': typeof TYPED_CONFIG.tlsInspector };
}

export interface Listener {
  '@type': typeof TYPE_URL.listener;
  name: string;
  address?: Address;
  filter_chains?: FilterChain[];
  listener_filters?: ListenerFilter[];
  traffic_direction?: 'INBOUND' | 'OUTBOUND';
  /** Capture proxies' virtualOutbound: hand each connection to the listener of its original destination. */
  use_original_dst?: BoolValue;
  /** Capture proxies' per-port listeners: `false`, reached only through virtualOutbound. */
  bind_to_port?: BoolValue;
  /** Proxyless gRPC only: an HCM using RDS over ADS. */
  api_listener?: { api_listener: HttpConnectionManager };
}

// ---- CDS / EDS ----

export interface LbEndpoint {
  endpoint: { address: Address };
  health_status?: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING';
  load_balancing_weight?: UInt32Value;
  metadata?: Metadata;
}

export interface LocalityLbEndpoints {
  locality?: { region?: string; zone?: string; sub_zone?: string };
  lb_endpoints: LbEndpoint[];
  /** Required: a locality without it is dropped silently by grpc-js-xds. */
  load_balancing_weight: UInt32Value;
  priority?: number;
}

export interface ClusterLoadAssignment {
  '@type': typeof TYPE_URL.endpoint;
  cluster_name: string;
  endpoints: LocalityLbEndpoints[];
}

export interface Cluster {
  '@type': typeof TYPE_URL.cluster;
  name: string;
  type: 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
  eds_cluster_config?: { eds_config: AdsConfigSource; service_name?: string };
  load_assignment?: Omit<ClusterLoadAssignment, '@type'>;
  connect_timeout?: Duration;
  lb_policy?: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV' | 'CLUSTER_PROVIDED';
  ring_hash_lb_config?: { minimum_ring_size?: UInt64Value; maximum_ring_size?: UInt64Value; hash_function?: 'XX_HASH' };
  maglev_lb_config?: { table_size?: UInt64Value };
  least_request_lb_config?: { choice_count?: UInt32Value };
  outlier_detection?: OutlierDetection;
  circuit_breakers?: { thresholds: CircuitBreakerThreshold[] };
  common_lb_config?: { healthy_panic_threshold?: { value: number }; locality_weighted_lb_config?: Record<string, never> };
  max_requests_per_connection?: UInt32Value;
  common_http_protocol_options?: { idle_timeout?: Duration };
  /** The upstream HTTP protocol toward the cluster's endpoints (absent: HTTP/1.1, as Envoy). */
  typed_extension_protocol_options?: { [HTTP_PROTOCOL_OPTIONS_KEY]: HttpProtocolOptions };
  transport_socket?: TransportSocket<UpstreamTlsContext>;
  metadata?: Metadata;
  /** STRICT_DNS / LOGICAL_DNS only. */
  dns_refresh_rate?: Duration;
  respect_dns_ttl?: boolean;
  dns_lookup_family?: 'V4_ONLY';
  typed_dns_resolver_config?: {
    name: 'envoy.network.dns_resolver.cares';
    typed_config: { '@type': typeof TYPED_CONFIG.caresDnsResolver; resolvers: Address[] };
  };
}

/** A `google.protobuf.UInt64Value`; int64 travels as a decimal string. */
export interface UInt64Value {
  value: string;
}

export interface OutlierDetection {
  consecutive_5xx?: UInt32Value;
  consecutive_gateway_failure?: UInt32Value;
  interval?: Duration;
  base_ejection_time?: Duration;
  max_ejection_percent?: UInt32Value;
  enforcing_consecutive_5xx?: UInt32Value;
  enforcing_consecutive_gateway_failure?: UInt32Value;
  enforcing_success_rate?: UInt32Value;
  /** gRPC's (gRFC A50) failure-percentage ejection; written for proxyless clients only. */
  failure_percentage_threshold?: UInt32Value;
  enforcing_failure_percentage?: UInt32Value;
  failure_percentage_minimum_hosts?: UInt32Value;
  failure_percentage_request_volume?: UInt32Value;
}

export interface CircuitBreakerThreshold {
  priority?: 'DEFAULT';
  max_connections?: UInt32Value;
  max_pending_requests?: UInt32Value;
  max_requests?: UInt32Value;
  max_retries?: UInt32Value;
}

export type XdsResourceBody = Listener | RouteConfiguration | Cluster | ClusterLoadAssignment;

/** A named resource as the ADS server sends it. */
export interface XdsResource {
  name: string;
  resource: XdsResourceBody;
}

/** The `typed_extension_protocol_options` key of the upstream HTTP protocol options. */
export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, as far as meshfed writes it. */
export interface HttpProtocolOptions {
  '@type': typeof TYPED_CONFIG.httpProtocolOptions;
  explicit_http_config: { http2_protocol_options: { allow_connect?: boolean } } | { http_protocol_options: Record<string, never> };
}
