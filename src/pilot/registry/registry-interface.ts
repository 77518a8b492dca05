import type { WorkloadSpec } from '../../common/workload.ts';
import type { ImportedEndpoint } from '../../federation/federation-interface.ts';

/**
 * A registry's endpoints for one cluster (Istio's endpoint shard). Shards are replaced whole,
 * never merged in place; the model reads across all shards of all registries.
 */
export interface RegistryShard {
  /** Name of the registry that owns the shard (`file`, `federation`, later `kube`). */
  readonly registry: string;
  /** Cluster the shard's endpoints live in. */
  readonly cluster: string;
  /** Workloads of `cluster` reachable directly (local registries). */
  readonly workloads: readonly WorkloadSpec[];
  /** Endpoints of `cluster` reachable only through its east-west gateway (federation). */
  readonly imported: readonly ImportedEndpoint[];
  /** Address of `cluster`'s east-west gateway (port 15443), when the registry knows it. */
  readonly gatewayAddress?: string;
}

/**
 * One source of service discovery. Implementations are chosen by name (`file`, `federation`).
 * `shards()` returns the current immutable shards; `onChange` listeners run after they changed.
 */
export interface ServiceRegistry {
  readonly name: string;
  shards(): RegistryShard[];
  onChange(cb: () => void): void;
  /** Stops watching; idempotent. */
  close(): void;
}
