import type { MeshConfig } from '../config/mesh-config.ts';
import type { ServiceProtocol } from '../../common/service-protocol.ts';
import type { RequestAuthenticationConfig } from '../config/config-types.ts';
import type { AuthorizationPolicyConfig, DestinationRuleConfig, ExportTo, PeerAuthenticationConfig, SidecarConfig, VirtualServiceConfig } from '../config/config-types.ts';

/**
 * A port of a service, with the protocol its workloads declared (src/common/service-protocol.ts;
 * ports imported from peers that predate protocols are http).
 */
export interface ServicePort {
  readonly port: number;
  readonly protocol: ServiceProtocol;
}

/** A service known anywhere in the mesh, keyed by hostname. */
export interface ServiceModel {
  /** `reviews.default.svc.cluster.local` */
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  /** Sorted by port. */
  readonly ports: readonly ServicePort[];
  /**
   * Namespaces whose proxies see the service (a ServiceEntry's `exportTo`); absent: every namespace
   * (registry and imported services). See snapshot-view.ts.
   */
  readonly exportTo?: ExportTo;
  /**
   * A ServiceEntry's DNS resolution: its endpoints' addresses are DNS names (or IPs) that proxies
   * resolve themselves (DNS: STRICT_DNS clusters; DNS_ROUND_ROBIN: LOGICAL_DNS). Absent: endpoints
   * are IP addresses served over EDS.
   */
  readonly resolution?: 'DNS' | 'DNS_ROUND_ROBIN';
}

/**
 * Mesh-wide DNS settings for DNS-resolved clusters (Istio's meshConfig `dnsRefreshRate`, and the
 * resolvers Envoy's c-ares takes in `typed_dns_resolver_config`; none: the proxy's system resolver).
 */
export interface DnsSettings {
  readonly resolvers: readonly { readonly host: string; readonly port: number }[];
  readonly refreshRateMs: number;
}

/** Istio's default `dnsRefreshRate`. */
export const DEFAULT_DNS_REFRESH_MS = 60_000;

interface EndpointBase {
  readonly hostname: string;
  /** Service port this endpoint serves (the app's port for local workloads). */
  readonly port: number;
  /** Registry of the shard it came from. */
  readonly registry: string;
  /** Cluster the workload runs in. */
  readonly cluster: string;
  readonly namespace: string;
  readonly workload: string;
  readonly serviceAccount: string;
  /** The workload's labels plus `topology.istio.io/cluster` = `cluster`. */
  readonly labels: Readonly<Record<string, string>>;
}

/** A workload dialled directly at `address:port` (its sidecar captures on 15006 when `sidecar`). */
export interface LocalEndpoint extends EndpointBase {
  readonly kind: 'local';
  readonly address: string;
  readonly sidecar: boolean;
  /** Port dialled at `address` when it differs from `port` (a ServiceEntry's targetPort). */
  readonly targetPort?: number;
  /** Load-balancing weight (a ServiceEntry endpoint's `weight`); absent: 1. */
  readonly weight?: number;
}

/** A workload of another cluster, reached through that cluster's east-west gateway; always mTLS. */
export interface RemoteEndpoint extends EndpointBase {
  readonly kind: 'remote';
  readonly gateway: { readonly address: string; readonly port: number };
  /** Its federation id, when its cluster's gateway accepts endpoint-qualified SNIs (ImportedEndpoint). */
  readonly endpointId?: string;
}

export type EndpointModel = LocalEndpoint | RemoteEndpoint;

/**
 * Everything generators read, built once per push by `buildSnapshot` and never changed afterwards
 * (frozen; maps are read-only by type). Every collection is sorted, so identical inputs give
 * identical generator output.
 */
export interface Snapshot {
  readonly version: string;
  /** The cluster this Pilot serves. */
  readonly cluster: string;
  readonly trustDomain: string;
  /**
   * The mesh config (`--mesh-config`, Istio's meshConfig subset): root namespace, trust domain
   * aliases, path normalization, extension providers. Its `trustDomain` is already folded into
   * `trustDomain` above.
   */
  readonly mesh: MeshConfig;
  readonly domainSuffix: string;
  /** This cluster's east-west gateway address, if it has one. */
  readonly gatewayAddress?: string;
  /** DNS settings of DNS-resolved clusters; absent: system resolver, Istio's default refresh rate. */
  readonly dns?: DnsSettings;
  /** By hostname, sorted. */
  readonly services: ReadonlyMap<string, ServiceModel>;
  /** By hostname: every endpoint across all shards (local and remote), sorted. */
  readonly endpoints: ReadonlyMap<string, readonly EndpointModel[]>;
  /**
   * By fully qualified host; when several VirtualServices name a host, the first by namespace/name
   * wins. In a base snapshot every VirtualService takes part whatever its `exportTo`; in a
   * namespace's view (snapshot-view.ts) only those exported to it.
   */
  readonly virtualServices: ReadonlyMap<string, VirtualServiceConfig>;
  /** By fully qualified host; the first by namespace/name wins (among those visible, in a view). */
  readonly destinationRules: ReadonlyMap<string, DestinationRuleConfig>;
  /** Every VirtualService, sorted by namespace/name: what views are made from. */
  readonly allVirtualServices: readonly VirtualServiceConfig[];
  /** Every DestinationRule, sorted by namespace/name. */
  readonly allDestinationRules: readonly DestinationRuleConfig[];
  /** Every Sidecar, sorted by namespace/name (the order Istio's selection breaks ties in). */
  readonly sidecars: readonly SidecarConfig[];
  /** Every AuthorizationPolicy, sorted by namespace/name (selection: authorization-scope.ts). */
  readonly authorizationPolicies: readonly AuthorizationPolicyConfig[];
  /** Every RequestAuthentication, sorted by namespace/name (selection: authorization-scope.ts). */
  readonly requestAuthentications: readonly RequestAuthenticationConfig[];
  /**
   * The key sets of the RequestAuthentications' `jwksUri`s, as Pilot fetched them (istiod inlines
   * them the same way): the JWKS text, or undefined while it could not be fetched (then the
   * generator inlines a set without keys, so no token verifies).
   */
  readonly jwks: ReadonlyMap<string, string | undefined>;
  /** Every PeerAuthentication, sorted by namespace/name (peer-authentication.ts picks per workload). */
  readonly peerAuthentications: readonly PeerAuthenticationConfig[];
  /**
   * Only in a proxy's Sidecar-scoped view (sidecar-scope-view.ts): the outbound traffic policy of
   * the Sidecar that applies to it. Absent: the mesh default (meshfed has no mesh config): ALLOW_ANY
   * for capture proxies, as Istio's meshConfig default; without capture an unknown host has no route.
   */
  readonly outboundTrafficPolicy?: 'REGISTRY_ONLY' | 'ALLOW_ANY';
  /** Hostnames with a ServiceExport in this cluster's configuration. */
  readonly exported: ReadonlySet<string>;
  /** Local endpoints by `workloadKey(cluster, namespace, name)`. */
  readonly workloads: ReadonlyMap<string, readonly LocalEndpoint[]>;
}

export function workloadKey(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}
