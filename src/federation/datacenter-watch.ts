/**
 * Watches the meshfed services of one remote datacenter with blocking queries: one loop on the
 * service names, and one loop per meshfed service on its health entries. It reports raw results
 * only; turning them into domain events is the importer's job, done on its queue, not here.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Blocking, BlockingOptions, DiscoveryBackend, DiscoveryResult } from './discovery-interface.ts';
import type { DiscoveryError } from './federation-errors.ts';

/** Callbacks of a datacenter watch. They must only record and enqueue, never block. */
export interface DatacenterWatchHandlers {
  /**
   * The latest raw health entries of every meshfed service of the datacenter, keyed by service
   * name. Only called once every listed service has answered at least once.
   */
  onSnapshot(entries: Map<string, unknown>): void;
  /** A watch request failed; `consecutive` counts failures since the last success. */
  onFailure(consecutive: number, error: DiscoveryError): void;
  /** A request succeeded after one or more failures. */
  onRecovered(): void;
  /**
   * Any request answered: the datacenter's data is current as of now, changed or not (a blocking
   * query answers at the latest after `waitSeconds`). The importer's staleness counts from here.
   */
  onContact?(): void;
}

/** Options of startDatacenterWatch. */
export interface DatacenterWatchOptions {
  backend: DiscoveryBackend;
  datacenter: string;
  /** `wait` of each blocking query, in seconds. */
  waitSeconds: number;
  /** Retry delay after a failure in ms; doubles per failure up to 8×. */
  retryDelayMs: number;
}

/** A running datacenter watch. */
export interface DatacenterWatch {
  /** Aborts every outstanding blocking query; no callback runs afterwards. */
  stop(): void;
}

/** Consul's rule: an index that goes backwards means the store was reset; start over. */
function nextIndex(previous: string | undefined, answer: string): string | undefined {
  if (previous !== undefined && BigInt(answer) < BigInt(previous)) return undefined;
  return answer === '0' ? '1' : answer;
}

export function startDatacenterWatch(opts: DatacenterWatchOptions, handlers: DatacenterWatchHandlers): DatacenterWatch {
  const { backend, datacenter, waitSeconds } = opts;
  const stopAll = new AbortController();
  /** Per service: its latest raw entries (undefined until the first answer) and its own abort. */
  const services = new Map<
    string,
    { raw: unknown; seen: boolean; text: string; abort: AbortController; unlink: () => void }
  >();
  let failures = 0;

  const stopped = (): boolean => stopAll.signal.aborted;

  const succeeded = (): void => {
    if (failures > 0) {
      failures = 0;
      if (!stopped()) handlers.onRecovered();
    }
  };

  const failed = async (error: DiscoveryError, signal: AbortSignal): Promise<void> => {
    failures += 1;
    if (!stopped()) handlers.onFailure(failures, error);
    const delay = opts.retryDelayMs * 2 ** Math.min(3, failures - 1);
    await sleep(delay, undefined, { signal }).catch(() => undefined);
  };

  const publish = (): void => {
    if (stopped()) return;
    const snapshot = new Map<string, unknown>();
    for (const [name, state] of services) {
      if (!state.seen) return;
      snapshot.set(name, state.raw);
    }
    handlers.onSnapshot(snapshot);
  };

  /**
   * One blocking-query loop: asks again with the last index after every answer, backs off after a
   * failure, and hands each answer to `onAnswer` until the signal aborts or `onAnswer` says stop.
   */
  const follow = async <T>(
    signal: AbortSignal,
    query: (o: BlockingOptions) => DiscoveryResult<Blocking<T>>,
    onAnswer: (value: T) => 'continue' | 'stop',
  ): Promise<void> => {
    let index: string | undefined;
    while (!signal.aborted) {
      const answer = await query({ ...(index !== undefined ? { index } : {}), waitSeconds, signal });
      if (signal.aborted) return;
      if (!answer.ok) {
        await failed(answer.errors, signal);
        continue;
      }
      succeeded();
      handlers.onContact?.();
      index = nextIndex(index, answer.value.index);
      if (onAnswer(answer.value.value) === 'stop') return;
    }
  };

  const watchHealth = (name: string, signal: AbortSignal): Promise<void> =>
    follow(signal, (o) => backend.watchServiceHealth(datacenter, name, o), (entries) => {
      const state = services.get(name);
      if (!state) return 'stop';
      const text = JSON.stringify(entries);
      if (state.seen && state.text === text) return 'continue';
      state.raw = entries;
      state.text = text;
      state.seen = true;
      publish();
      return 'continue';
    });

  let first = true;
  const watchNames = (): Promise<void> =>
    follow(stopAll.signal, (o) => backend.watchServiceNames(datacenter, o), (listed) => {
      const names = new Set(listed);
      let removed = false;
      for (const [name, state] of services) {
        if (!names.has(name)) {
          state.abort.abort();
          state.unlink();
          services.delete(name);
          removed = true;
        }
      }
      for (const name of names) {
        if (services.has(name)) continue;
        const abort = new AbortController();
        const onStop = (): void => abort.abort();
        stopAll.signal.addEventListener('abort', onStop, { once: true });
        const unlink = (): void => stopAll.signal.removeEventListener('abort', onStop);
        services.set(name, { raw: undefined, seen: false, text: '', abort, unlink });
        void watchHealth(name, abort.signal);
      }
      if (removed || first) publish();
      first = false;
      return 'continue';
    });

  void watchNames();
  return {
    stop: () => stopAll.abort(),
  };
}
