import type { ImportedEndpoint, ImportSink } from '../../federation/federation-interface.ts';
import type { RegistryShard, ServiceRegistry } from './registry-interface.ts';

/** The `federation` registry: the federation controller writes to it through ImportSink. */
export interface FederationRegistry extends ServiceRegistry, ImportSink {}

/**
 * One shard per remote cluster, replaced whole on every `replaceCluster`. Endpoints are copied and
 * frozen, so the caller may reuse its arrays. Listeners run synchronously after each change.
 */
export function createFederationRegistry(): FederationRegistry {
  const shards = new Map<string, RegistryShard>();
  const listeners: (() => void)[] = [];
  const notify = (): void => {
    for (const cb of listeners) cb();
  };
  return {
    name: 'federation',
    shards: () => [...shards.keys()].sort().flatMap((c) => shards.get(c) ?? []),
    replaceCluster(cluster: string, endpoints: ImportedEndpoint[]) {
      const imported = endpoints.map((e) =>
        Object.freeze({ ...e, gateway: Object.freeze({ ...e.gateway }), labels: Object.freeze({ ...e.labels }) }),
      );
      const gatewayAddress = imported[0]?.gateway.address;
      shards.set(
        cluster,
        Object.freeze({
          registry: 'federation',
          cluster,
          services: Object.freeze([]),
          endpoints: Object.freeze([]),
          imported: Object.freeze(imported),
          ...(gatewayAddress !== undefined ? { gatewayAddress } : {}),
        }),
      );
      notify();
    },
    removeCluster(cluster: string) {
      if (shards.delete(cluster)) notify();
    },
    onChange(cb) {
      listeners.push(cb);
    },
    close() {
      listeners.length = 0;
    },
  };
}
