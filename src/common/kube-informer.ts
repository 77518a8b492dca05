/**
 * One list/watch of a Kubernetes resource on `@kubernetes/client-node`'s ListWatch (its informer
 * and cache), for controllers that keep objects in step (the root-certificate publisher), with
 * what the informer leaves to its caller:
 * - every watch asks for bookmarks (`allowWatchBookmarks=true`), so a quiet watch's resourceVersion
 *   keeps up and a re-watch after a server-side close rarely meets 410 Gone;
 * - after an error other than 410 (which the informer handles itself by relisting) the informer
 *   stops; this restarts it with exponential backoff, and the restart relists.
 * A relist calls `remove` for objects gone meanwhile and `upsert` for the rest, so no event is lost
 * and no stale object stays. `list` must apply the same selectors as the watch (`labelSelector`,
 * `fieldSelector`): the informer does not filter what it lists. After `stop()` no watch stays open,
 * even one whose list was in flight.
 */
import { type KubeConfig, type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

/**
 * client-node's Watch, asking for BOOKMARK events on every watch it opens. A watch that opens after
 * its informer was stopped (its request was in flight during stop(), when ListWatch had nothing to
 * abort yet) is aborted at once.
 */
export class BookmarkingWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly stopped: () => boolean = () => false,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const controller = await super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
    if (this.stopped()) controller.abort();
    return controller;
  }
}

/** Options of startKubeInformer. */
export interface KubeInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** The collection's URL path, e.g. `/api/v1/namespaces` or `/api/v1/configmaps`. */
  path: string;
  /** Lists the collection with the same selectors as `fieldSelector` / `labelSelector`. */
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  /** Names the resource in logs. */
  name: string;
  logger: Logger;
  /** First restart delay after an error in ms (default 500), doubling up to 30 s. */
  restartDelayMs?: number;
}

/** Callbacks, run in the order the informer delivers events. */
export interface KubeInformerHandlers<T extends KubernetesObject> {
  upsert(obj: T): void;
  remove(obj: T): void;
  /** A list or watch failed (the informer restarts after its delay); the error's message. */
  failed?(message: string): void;
  /** A list was delivered (the first one, and each relist after a restart or 410). */
  listed?(): void;
}

/** A running informer. */
export interface KubeInformer<T extends KubernetesObject> {
  /** The cached object `namespace/name` (`namespace` undefined for cluster-scoped objects). */
  get(name: string, namespace?: string): T | undefined;
  /** Every cached object. */
  list(): readonly T[];
  /** Resolves once the first list has been delivered and the watch opened (or the first try failed). */
  synced(): Promise<void>;
  /** Stops watching and restarting; idempotent. */
  stop(): Promise<void>;
}

/** Starts the informer at once. */
export function startKubeInformer<T extends KubernetesObject>(opts: KubeInformerOptions<T>, h: KubeInformerHandlers<T>): KubeInformer<T> {
  let stopped = false;
  // client-node's ListWatch opens its watch after a list even when stop() came while the list was
  // in flight; a list answered after stop() therefore fails, so no watch is opened (and one whose
  // request was in flight is aborted by BookmarkingWatch).
  const list = async (): Promise<KubernetesListObject<T>> => {
    const l = await opts.list();
    if (stopped) throw new Error('informer stopped');
    // After the informer has delivered the list's objects (it does so once this resolves).
    if (h.listed) {
      setTimeout(() => {
        if (!stopped) h.listed?.();
      }, 0);
    }
    return l;
  };
  const informer = new ListWatch<T>(opts.path, new BookmarkingWatch(opts.kubeConfig, () => stopped), list, false, opts.labelSelector, opts.fieldSelector);
  const firstDelay = opts.restartDelayMs ?? 500;
  let delay = firstDelay;
  let timer: NodeJS.Timeout | undefined;
  informer.on('add', (o) => h.upsert(o));
  informer.on('update', (o) => h.upsert(o));
  informer.on('delete', (o) => h.remove(o));
  informer.on('connect', () => {
    delay = firstDelay;
  });
  informer.on('error', (e: unknown) => {
    if (stopped) return;
    const message = errorMessage(e);
    opts.logger.warn({ resource: opts.name, retryInMs: delay, err: message }, 'list/watch failed; restarting after a delay');
    h.failed?.(message);
    timer = setTimeout(() => {
      timer = undefined;
      if (!stopped) void informer.start().catch(() => undefined);
    }, delay);
    delay = Math.min(delay * 2, 30_000);
  });
  const started = informer.start().catch(() => undefined);
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: () => informer.list(),
    synced: () => started,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      await informer.stop();
    },
  };
}
