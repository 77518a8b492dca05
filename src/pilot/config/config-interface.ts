import type { ConfigError } from './config-error.ts';
import type { ConfigObject } from './config-types.ts';

/**
 * A source of configuration objects (a watched folder, Kubernetes custom resources).
 * `list()` is always the last good state: a broken edit keeps the objects that worked before and
 * shows up in `errors()` instead. Listeners run after the state has changed, never during a call.
 */
export interface ConfigStore {
  /** Valid objects, sorted by kind, namespace, name. */
  list(): ConfigObject[];
  /** Current problems (syntax, validation, duplicates, I/O), for every file that has any. */
  errors(): ConfigError[];
  onChange(cb: () => void): void;
  /** Stores that list from an API server (`crd`): resolves once the first list of everything is in. */
  synced?(): Promise<void>;
  /**
   * Stops watching; idempotent. A store that holds something outside the process (the CRD store's
   * status Lease) returns a promise that resolves once it is released.
   */
  close(): void | Promise<void>;
}
