/**
 * Pilot's normalized view of Istio-style configuration. Produced only by `parseConfigText` (which
 * validates every field); later stages trust these shapes. Hosts are fully qualified, weights are
 * filled in, timeouts are milliseconds.
 */

/** Kinds meshfed reads; every other kind is rejected at parse time. */
export type ConfigKind = 'VirtualService' | 'DestinationRule' | 'ServiceExport';

export interface ConfigMeta {
  name: string;
  /** `default` when the document leaves it out. */
  namespace: string;
  labels: Readonly<Record<string, string>>;
  annotations: Readonly<Record<string, string>>;
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
}

export interface HttpMatchRequest {
  name?: string;
  uri?: StringMatch;
  /** Header name (lower-case) → match. */
  headers: Readonly<Record<string, StringMatch>>;
}

export interface RouteDestination {
  /** Fully qualified, e.g. `reviews.default.svc.cluster.local`. */
  host: string;
  /** Empty when no subset is named. */
  subset: string;
  port?: number;
}

export interface HttpRouteDestination {
  destination: RouteDestination;
  /** 0..100; a single destination gets 100. */
  weight: number;
}

export interface HttpRoute {
  name?: string;
  /** Empty: match everything (prefix `/`). */
  match: readonly HttpMatchRequest[];
  route: readonly HttpRouteDestination[];
  timeoutMs?: number;
}

export interface VirtualServiceSpec {
  /** Fully qualified hosts. */
  hosts: readonly string[];
  gateways: readonly string[];
  http: readonly HttpRoute[];
}

export type LoadBalancerSimple = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

export interface Subset {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface DestinationRuleSpec {
  /** Fully qualified. */
  host: string;
  subsets: readonly Subset[];
  loadBalancer?: LoadBalancerSimple;
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

/** `metadata.name` is the exported service's name, in `metadata.namespace`. */
export interface ServiceExportConfig extends ConfigBase {
  kind: 'ServiceExport';
  /** `<name>.<namespace>.svc.<domainSuffix>` */
  hostname: string;
}

export type ConfigObject = VirtualServiceConfig | DestinationRuleConfig | ServiceExportConfig;

/** `VirtualService default/reviews` */
export function configKey(o: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`;
}
