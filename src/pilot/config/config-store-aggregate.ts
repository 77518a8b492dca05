/**
 * Several config stores served as one (`--config-stores file,crd`), as istiod aggregates its
 * config sources. The objects of all stores are merged by kind/namespace/name: the first store (in
 * the order given) keeps an object defined in two, and the other definition is reported as a
 * duplicate, as two files defining it would be.
 */
import type { ConfigError } from './config-error.ts';
import type { ConfigStore } from './config-interface.ts';
import { dedupeConfig } from './config-load.ts';
import type { ConfigObject } from './config-types.ts';

/** One ConfigStore over `stores`; listeners run after any of them changed. */
export function aggregateConfigStores(stores: readonly ConfigStore[]): ConfigStore {
  const merged = (): { objects: ConfigObject[]; errors: ConfigError[] } => dedupeConfig(stores.flatMap((s) => s.list()));
  let closing: Promise<void> | undefined;
  return {
    list: () => merged().objects,
    errors: () => [...stores.flatMap((s) => s.errors()), ...merged().errors],
    onChange(cb) {
      for (const s of stores) s.onChange(cb);
    },
    synced: () => Promise.all(stores.map((s) => s.synced?.())).then(() => undefined),
    close() {
      closing ??= Promise.all(stores.map((s) => s.close())).then(() => undefined);
      return closing;
    },
  };
}
