import type { ConfigError } from './config-error.ts';
import type { ConfigObject } from './config-types.ts';

/**
 * A source of configuration objects (a watched folder; later Kubernetes custom resources).
 * `list()` is always the last good state: a broken edit keeps the objects that worked before and
 * shows up in `errors()` instead. Listeners run after the state has changed, never during a call.
 */
export interface ConfigStore {
  /** Valid objects, sorted by kind, namespace, name. */
  list(): ConfigObject[];
  /** Current problems (syntax, validation, duplicates, I/O), for every file that has any. */
  errors(): ConfigError[];
  onChange(cb: () => void): void;
  /** Stops watching; idempotent. */
  close(): void;
}
