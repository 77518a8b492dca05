/**
 * The discovery backend extension point (docs/conventions.md: one interface per extension point): the controller talks to Consul, or to
 * the embedded memory store, only through this interface. Implementations are chosen by name with
 * `createDiscoveryBackend('consul' | 'memory', …)`.
 *
 * Every call returns a Result: an unreachable or failing backend is an expected condition that the
 * controller retries, never a throw. Blocking reads follow Consul's index semantics: pass the index
 * from the previous answer and the call returns when the data changed past it or `waitSeconds`
 * elapsed (then with the same index); an absent index answers at once.
 */
import type { Result } from '../common/result.ts';
import type { ConsulRegistration } from './consul/conversion.ts';
import type { DiscoveryError } from './federation-errors.ts';

/** Names of the available backends. */
export type DiscoveryBackendKind = 'consul' | 'memory';

/** Options of a blocking read. */
export interface BlockingOptions {
  /** Index from the previous answer; omitted for the first read. */
  index?: string;
  /** Longest time the backend may hold the request. */
  waitSeconds: number;
  /** Aborts the request; it then resolves with a `DISCOVERY_ABORTED` error. */
  signal?: AbortSignal;
}

/** The answer to a blocking read. */
export interface Blocking<T> {
  /** Pass back as `index` to wait for the next change. */
  index: string;
  value: T;
}

export type DiscoveryResult<T> = Promise<Result<T, DiscoveryError>>;

/** One datacenter-aware discovery store, seen from one cluster (its local datacenter). */
export interface DiscoveryBackend {
  readonly kind: DiscoveryBackendKind;
  /** Registers (or re-registers, replacing) an instance and its TTL check in the local datacenter. */
  register(registration: ConsulRegistration): DiscoveryResult<void>;
  /** Removes an instance of the local datacenter; removing an unknown ID succeeds. */
  deregister(id: string): DiscoveryResult<void>;
  /** Marks a TTL check passing. Fails with `DISCOVERY_REQUEST_FAILED` if the check is unknown. */
  heartbeat(checkId: string): DiscoveryResult<void>;
  /** IDs of the instances registered through the local agent (all clusters' prefixes). */
  localServiceIds(): DiscoveryResult<string[]>;
  /** Names of every known datacenter, the local one included. */
  datacenters(): DiscoveryResult<string[]>;
  /** Blocking read of the service names in `datacenter` that carry the meshfed tag. */
  watchServiceNames(datacenter: string, opts: BlockingOptions): DiscoveryResult<Blocking<string[]>>;
  /**
   * Blocking read of every instance of `service` in `datacenter`, in the JSON shape of Consul's
   * `/v1/health/service/<name>` (unvalidated: hand it to `fromHealthEntries`).
   */
  watchServiceHealth(datacenter: string, service: string, opts: BlockingOptions): DiscoveryResult<Blocking<unknown>>;
  /** Publishes the local cluster's root certificate (PEM) at `meshfed/trust-bundle/<cluster>`. */
  putTrustBundle(cluster: string, rootCertPem: string): DiscoveryResult<void>;
  /** Reads `meshfed/trust-bundle/<cluster>` from `datacenter`; undefined when absent. */
  getTrustBundle(datacenter: string, cluster: string): DiscoveryResult<string | undefined>;
  /** Aborts outstanding requests and frees connections. */
  close(): Promise<void>;
}

/** KV key of a cluster's published root certificate. */
export function trustBundleKey(cluster: string): string {
  return `meshfed/trust-bundle/${cluster}`;
}
