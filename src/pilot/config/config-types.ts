/**
 * Pilot's normalized view of Istio-style configuration. Produced only by `parseConfigText` (which
 * validates every field); later stages trust these shapes. Hosts are fully qualified, weights are
 * filled in, timeouts are milliseconds.
 */
import type { ServiceProtocol } from '../../common/service-protocol.ts';

/** Kinds meshfed reads; every other kind is rejected at parse time. */
export type ConfigKind = 'VirtualService' | 'DestinationRule' | 'ServiceEntry' | 'ServiceExport' | 'Sidecar' | 'PeerAuthentication';

export interface ConfigMeta {
  name: string;
  /** `default` when the document leaves it out. */
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

/** Istio StringMatch; a header or query match may also be empty (`{}`: presence). */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface HttpMatchRequest {
  name?: string;
  uri?: StringMatch;
  scheme?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  /** Header name (lower-case) → match. */
  headers: Readonly<Record<string, StringMatch>>;
  withoutHeaders: Readonly<Record<string, StringMatch>>;
  queryParams: Readonly<Record<string, StringMatch>>;
  ignoreUriCase: boolean;
  /** The rule applies only on this service port. */
  port?: number;
  /** The rule applies only to proxies with these labels. */
  sourceLabels?: Readonly<Record<string, string>>;
  /** The rule applies only to proxies in this namespace. */
  sourceNamespace?: string;
}

export interface RouteDestination {
  /** Fully qualified, e.g. `reviews.default.svc.cluster.local`. */
  host: string;
  /** Empty when no subset is named. */
  subset: string;
  port?: number;
}

export interface HeaderOperations {
  set: Readonly<Record<string, string>>;
  add: Readonly<Record<string, string>>;
  remove: readonly string[];
}

export interface HeadersConfig {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

export interface HttpRouteDestination {
  destination: RouteDestination;
  /** 0..100; a single destination gets 100. */
  weight: number;
  headers?: HeadersConfig;
}

export interface HttpRetry {
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry conditions; HTTP status codes in Istio's `retryOn` are moved to `statusCodes`. */
  retryOn: readonly string[];
  statusCodes: readonly number[];
  /** Istio's `retryRemoteLocalities`: retries go to other priorities (localities) first. */
  remoteLocalities?: boolean;
}

export interface HttpFault {
  /** Percentages are 0..100. */
  delay?: { ms: number; percent: number };
  abort?: { httpStatus?: number; grpcStatus?: number; percent: number };
}

export interface HttpMirror {
  destination: RouteDestination;
  /** 0..100 */
  percent: number;
}

export interface CorsPolicy {
  allowOrigins: readonly StringMatch[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
}

export interface HttpRoute {
  name?: string;
  /** Empty: match everything (prefix `/`). */
  match: readonly HttpMatchRequest[];
  /** Empty for a redirect or direct-response rule. */
  route: readonly HttpRouteDestination[];
  redirect?: { uri?: string; authority?: string; port?: number; scheme?: string; code: 301 | 302 | 303 | 307 | 308 };
  directResponse?: { status: number; body?: string };
  rewrite?: { uri?: string; uriRegex?: { match: string; rewrite: string }; authority?: string };
  timeoutMs?: number;
  /** Absent: Istio's default policy. */
  retries?: HttpRetry;
  fault?: HttpFault;
  mirrors: readonly HttpMirror[];
  corsPolicy?: CorsPolicy;
  headers?: HeadersConfig;
}

/**
 * Namespaces a resource is visible in (Istio `exportTo`): `*` for every namespace, otherwise
 * namespace names (`.` is replaced by the resource's own namespace; `~` leaves the list empty:
 * visible nowhere). Sorted, no duplicates; `['*']` when the document leaves it out.
 */
export type ExportTo = readonly string[];

export interface VirtualServiceSpec {
  /** Fully qualified hosts. */
  hosts: readonly string[];
  gateways: readonly string[];
  /** For HTTP-family ports; empty: those ports get the default route. */
  http: readonly HttpRoute[];
  /** For tcp and tls ports (first rule whose match applies wins); empty: the default cluster. */
  tcp: readonly TcpRoute[];
  /** SNI rules for the app's own TLS on tls ports (and tcp ports of a host that has them); first claim of an SNI wins. */
  tls: readonly TlsRoute[];
  exportTo: ExportTo;
}

/** Istio's L4MatchAttributes that meshfed honours (Pilot evaluates them per proxy). */
export interface L4MatchRequest {
  port?: number;
  sourceLabels?: Readonly<Record<string, string>>;
  sourceNamespace?: string;
}

/** A VirtualService `tcp` rule: match blocks ORed (none: everything), weighted destinations. */
export interface TcpRoute {
  match: readonly L4MatchRequest[];
  route: readonly { destination: RouteDestination; weight: number }[];
}

/** Istio's TLSMatchAttributes that meshfed honours: the SNI hosts (verbatim, exact or `*.suffix`) and the L4 fields. */
export interface TlsMatchRequest extends L4MatchRequest {
  sniHosts: readonly string[];
}

/** A VirtualService `tls` rule: match blocks ORed (at least one), weighted destinations. */
export interface TlsRoute {
  match: readonly TlsMatchRequest[];
  route: readonly { destination: RouteDestination; weight: number }[];
}

export type LoadBalancerSimple = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

/** What `consistentHash` hashes (exactly one, as Istio requires). Durations are milliseconds. */
export type ConsistentHashKey =
  | { kind: 'header'; name: string }
  | { kind: 'cookie'; name: string; path?: string; ttlMs?: number }
  | { kind: 'source-ip' }
  | { kind: 'query'; name: string };

export interface ConsistentHashSettings {
  key: ConsistentHashKey;
  /** Ring hash (the default) with its minimum ring size (`ringHash.minimumRingSize` or the deprecated top-level one), or Maglev. */
  algorithm: { kind: 'ring-hash'; minimumRingSize?: number } | { kind: 'maglev'; tableSize?: number };
}

/**
 * Istio `localityLbSetting`, validated (see config-schema-locality.ts). Locality strings are
 * `region[/zone[/subzone]]`, possibly ending in `*`. `enabled` defaults to true. `distribute` and
 * `failover` never both hold entries; `failover` together with `failoverPriority` orders by label
 * first, then by locality (generator-locality.ts).
 */
export interface LocalityLbSetting {
  enabled: boolean;
  /** `to` in declaration order. */
  distribute: readonly { from: string; to: readonly { locality: string; weight: number }[] }[];
  /** Regions. */
  failover: readonly { from: string; to: string }[];
  /** Label keys in order; `value` when written `key=value` (it then replaces the proxy's value). */
  failoverPriority: readonly { label: string; value?: string }[];
}

/** `LEAST_CONN` is normalized to `LEAST_REQUEST`. At most one of `simple` and `consistentHash` is set. */
export interface LoadBalancerSettings {
  simple?: LoadBalancerSimple;
  consistentHash?: ConsistentHashSettings;
  localityLbSetting?: LocalityLbSetting;
}

/** Istio `connectionPool`; 0 means "not set" as in Istio's proto3 fields. Durations in milliseconds. */
export interface ConnectionPoolSettings {
  tcp?: { maxConnections?: number; connectTimeoutMs?: number };
  http?: { http1MaxPendingRequests?: number; http2MaxRequests?: number; maxRequestsPerConnection?: number; maxRetries?: number; idleTimeoutMs?: number };
}

/** Istio `outlierDetection` (`consecutiveErrors` is the deprecated gateway-errors count). Durations in milliseconds. */
export interface OutlierDetectionSettings {
  consecutiveErrors?: number;
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  intervalMs?: number;
  baseEjectionTimeMs?: number;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
}

/**
 * Istio `ClientTLSSettings` (`trafficPolicy.tls`), validated (config-schema-client-tls.ts).
 * DISABLE: plaintext. ISTIO_MUTUAL: mesh mTLS (no other field is set). SIMPLE / MUTUAL: the
 * sidecar originates TLS with these files (MUTUAL always has `clientCertificate` and `privateKey`;
 * SIMPLE never has them). Without `caCertificates` the system trust store verifies the server,
 * unless `insecureSkipVerify`.
 */
export interface ClientTlsSettings {
  mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  caCertificates?: string;
  clientCertificate?: string;
  privateKey?: string;
  sni?: string;
  subjectAltNames: readonly string[];
  insecureSkipVerify: boolean;
}

/** The sections of a traffic policy that subsets and port-level settings override one by one. */
export interface TrafficPolicySections {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetectionSettings;
  tls?: ClientTlsSettings;
}

export interface PortTrafficPolicy extends TrafficPolicySections {
  port: number;
}

export interface TrafficPolicy extends TrafficPolicySections {
  portLevelSettings: readonly PortTrafficPolicy[];
}

export interface Subset {
  name: string;
  labels: Readonly<Record<string, string>>;
  trafficPolicy?: TrafficPolicy;
}

export interface DestinationRuleSpec {
  /** Fully qualified. */
  host: string;
  subsets: readonly Subset[];
  trafficPolicy?: TrafficPolicy;
  exportTo: ExportTo;
}

/** A ServiceEntry port; `targetPort` defaults to `number` (endpoint `ports` override both). */
export interface ServiceEntryPort {
  number: number;
  /** Istio's name mapped onto the model's union (src/common/service-protocol.ts): HTTP2 → http2, HTTPS → tls, … */
  protocol: ServiceProtocol;
  name: string;
  targetPort?: number;
}

/** An endpoint: an IP address (or a DNS name with resolution DNS / DNS_ROUND_ROBIN), per-port-name overrides of the target port, labels, weight (default 1). */
export interface ServiceEntryEndpoint {
  address: string;
  ports: Readonly<Record<string, number>>;
  labels: Readonly<Record<string, string>>;
  weight: number;
}

export interface ServiceEntrySpec {
  /** As written: ServiceEntry hosts are not namespace-qualified. */
  hosts: readonly string[];
  ports: readonly ServiceEntryPort[];
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  /**
   * STATIC: endpoints are IP addresses. DNS: every address each endpoint's name (or, without
   * endpoints, each host) resolves to is an endpoint (Envoy STRICT_DNS). DNS_ROUND_ROBIN: the
   * first address of the one name (LOGICAL_DNS). NONE is refused at parse time.
   */
  resolution: 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints: readonly ServiceEntryEndpoint[];
  /** MESH_INTERNAL only: the local workloads of the entry's namespace with these labels are its endpoints. */
  workloadSelector?: { labels: Readonly<Record<string, string>> };
  exportTo: ExportTo;
}

/**
 * One egress `hosts` entry of a Sidecar, split at its `/` (Istio's `namespace/dnsName`).
 * `namespace`: `.` (the proxy's own namespace: for a namespace's Sidecar its own, for the
 * root-namespace default the namespace of each proxy it applies to), `*` (any), `~` (none) or a
 * name. `dnsName`: `*`, a wildcard `*.suffix`, a fully qualified name, or a short name (no dot),
 * which stands for `<name>.<namespace>.svc.<suffix>` (with `*`: in any namespace).
 */
export interface SidecarEgressHost {
  namespace: string;
  dnsName: string;
}

/** An egress listener: its hosts are visible on `port` only, or on every port when absent. */
export interface SidecarEgressListener {
  port?: number;
  hosts: readonly SidecarEgressHost[];
}

/**
 * Istio `Sidecar` (networking.istio.io), validated (config-schema-sidecar.ts). `egress` is never
 * empty: a Sidecar that leaves it out imports every namespace's hosts. `outboundTrafficPolicy` absent: the mesh
 * default (capture proxies ALLOW_ANY, as Istio's meshConfig default; others: an unknown host has no route, 404 `NR`).
 */
/** Istio's `outboundTrafficPolicy.mode`: what a captured connection to a destination the mesh does not know gets. */
export type OutboundTrafficPolicy = 'REGISTRY_ONLY' | 'ALLOW_ANY';

export interface SidecarSpec {
  workloadSelector?: { labels: Readonly<Record<string, string>> };
  egress: readonly SidecarEgressListener[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
}

interface ConfigBase {
  apiVersion: string;
  metadata: ConfigMeta;
  /** File (or other origin) the object came from, for diagnostics. */
  source: string;
}

export interface VirtualServiceConfig extends ConfigBase {
  kind: 'VirtualService';
  spec: VirtualServiceSpec;
}

export interface DestinationRuleConfig extends ConfigBase {
  kind: 'DestinationRule';
  spec: DestinationRuleSpec;
}

export interface ServiceEntryConfig extends ConfigBase {
  kind: 'ServiceEntry';
  spec: ServiceEntrySpec;
}

/** `metadata.name` is the exported service's name, in `metadata.namespace`. */
export interface ServiceExportConfig extends ConfigBase {
  kind: 'ServiceExport';
  /** `<name>.<namespace>.svc.<domainSuffix>` */
  hostname: string;
}

export interface SidecarConfig extends ConfigBase {
  kind: 'Sidecar';
  spec: SidecarSpec;
}

/** `from[].source` of an AuthorizationPolicy rule (Istio's field names; absent lists: not set). */
export interface AuthorizationSource {
  principals?: readonly string[];
  notPrincipals?: readonly string[];
  requestPrincipals?: readonly string[];
  notRequestPrincipals?: readonly string[];
  namespaces?: readonly string[];
  notNamespaces?: readonly string[];
  ipBlocks?: readonly string[];
  notIpBlocks?: readonly string[];
  remoteIpBlocks?: readonly string[];
  notRemoteIpBlocks?: readonly string[];
}

/** `to[].operation` of an AuthorizationPolicy rule. */
export interface AuthorizationOperation {
  hosts?: readonly string[];
  notHosts?: readonly string[];
  ports?: readonly string[];
  notPorts?: readonly string[];
  methods?: readonly string[];
  notMethods?: readonly string[];
  paths?: readonly string[];
  notPaths?: readonly string[];
}

/** One `when` condition. */
export interface AuthorizationCondition {
  key: string;
  values?: readonly string[];
  notValues?: readonly string[];
}

/** One rule: every present part must match (each list: any of its entries). */
export interface AuthorizationRule {
  from?: readonly { source: AuthorizationSource }[];
  to?: readonly { operation: AuthorizationOperation }[];
  when?: readonly AuthorizationCondition[];
}

export interface AuthorizationPolicySpec {
  /** Absent: every workload of the namespace (of the mesh, in the root namespace). */
  selector?: { matchLabels: Readonly<Record<string, string>> };
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  /** Absent: the policy has no rules (ALLOW: matches nothing). */
  rules?: readonly AuthorizationRule[];
}

export interface AuthorizationPolicyConfig extends ConfigBase {
  kind: 'AuthorizationPolicy';
  spec: AuthorizationPolicySpec;
}

/** Istio's PeerAuthentication mTLS modes; `UNSET` inherits from the enclosing scope. */
export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

/**
 * Istio `PeerAuthentication` (security.istio.io), validated (config-schema-peer-authentication.ts).
 * Scope: in the root namespace without `selector`, the mesh; elsewhere without `selector`, its
 * namespace; with `selector`, the matching workloads of its namespace. `mode` is `UNSET` when left
 * out. `portLevelMtls` (workload scope only) is sorted by port; its ports are the workload's ports.
 */
export interface PeerAuthenticationSpec {
  selector?: { matchLabels: Readonly<Record<string, string>> };
  mode: MtlsMode;
  portLevelMtls: readonly { port: number; mode: MtlsMode }[];
}

export interface PeerAuthenticationConfig extends ConfigBase {
  kind: 'PeerAuthentication';
  spec: PeerAuthenticationSpec;
}

/** One `jwtRules[]` entry of a RequestAuthentication (header names lower-case). */
export interface JwtRule {
  issuer: string;
  /** Empty: any audience. */
  audiences: readonly string[];
  /** Exactly one of `jwks` (inline JSON Web Key Set text) and `jwksUri` (fetched by Pilot). */
  jwks?: string;
  jwksUri?: string;
  /** Absent: Envoy's default (`Authorization: Bearer <token>` and the `access_token` parameter). */
  fromHeaders?: readonly { name: string; prefix: string }[];
  fromParams?: readonly string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken: boolean;
  outputClaimToHeaders: readonly { header: string; claim: string }[];
}

/**
 * Istio `RequestAuthentication` (security.istio.io), validated
 * (config-schema-request-authentication.ts); scoped like AuthorizationPolicy.
 */
export interface RequestAuthenticationSpec {
  selector?: { matchLabels: Readonly<Record<string, string>> };
  jwtRules: readonly JwtRule[];
}

export interface RequestAuthenticationConfig extends ConfigBase {
  kind: 'RequestAuthentication';
  spec: RequestAuthenticationSpec;
}

export type ConfigObject =
  | RequestAuthenticationConfig
  | VirtualServiceConfig
  | DestinationRuleConfig
  | ServiceEntryConfig
  | ServiceExportConfig
  | SidecarConfig
  | AuthorizationPolicyConfig
  | PeerAuthenticationConfig;

/** `VirtualService default/reviews` */
export function configKey(o: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`;
}
