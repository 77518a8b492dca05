import type { ImportedEndpoint } from '../../federation/federation-interface.ts';
import type { RegistryEndpoint, RegistryService } from './registry-types.ts';

/**
 * A registry's services and endpoints for one cluster (Istio's endpoint shard). Shards are
 * replaced whole, never merged in place; the model reads across all shards of all registries.
 */
export interface RegistryShard {
  /** Name of the registry that owns the shard (`file`, `federation`, `kube`). */
  readonly registry: string;
  /** Cluster the shard's services and endpoints live in. */
  readonly cluster: string;
  /** Services of `cluster` (local registries). */
  readonly services: readonly RegistryService[];
  /** Endpoints of `services`, reachable directly (local registries). */
  readonly endpoints: readonly RegistryEndpoint[];
  /** Endpoints of `cluster` reachable only through its east-west gateway (federation). */
  readonly imported: readonly ImportedEndpoint[];
  /** Address of `cluster`'s east-west gateway (port 15443), when the registry knows it. */
  readonly gatewayAddress?: string;
}

/** What a registry tells its change listeners. */
export interface RegistryChange {
  /**
   * Epoch ms of the last source event behind this change, when the registry waited for its
   * source to settle (a watched file's last write); absent: the change is as of now. Pilot counts
   * its own quiet period from it, so a settled source is not waited for twice.
   */
  readonly lastEventAt?: number;
}

/**
 * One source of service discovery. Implementations are chosen by name (registry-factory.ts).
 * `shards()` returns the current immutable shards; `onChange` listeners run after they changed.
 */
export interface ServiceRegistry {
  readonly name: string;
  shards(): RegistryShard[];
  onChange(cb: (change?: RegistryChange) => void): void;
  /** Stops watching; idempotent. */
  close(): void;
}
