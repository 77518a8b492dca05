/**
 * One list/watch of a custom resource, on `@kubernetes/client-node`'s informer, with the two things
 * it leaves to the caller:
 * - it asks for watch bookmarks (`allowWatchBookmarks=true`), so an idle watch's resourceVersion
 *   keeps moving and a re-watch after a server-side close rarely meets 410 Gone;
 * - it restarts after an error (the informer stops on any error but 410, which it handles itself
 *   by relisting), with exponential backoff.
 * Relists after 410 and re-watches after a close are the informer's: it calls `delete` for objects
 * gone from the new list and `add`/`update` for the rest.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject, ListWatch } from '@kubernetes/client-node';
import { BookmarkingWatch } from '../../../common/kube-informer.ts';
import { errorMessage } from '../../../common/errors.ts';
import type { Logger } from '../../../common/log.ts';
import { type CrdKind, resourceName } from './crd-kinds.ts';

/** Callbacks of one kind's informer. */
export interface CrdInformerHandlers {
  upsert(obj: KubernetesObject): void;
  remove(obj: KubernetesObject): void;
  /** A list or watch failed (`undefined` once it works again). */
  error(message: string | undefined): void;
  /** The first list has been delivered. */
  synced(): void;
}

/** Options: one namespace, or all of them when `namespace` is undefined. */
export interface CrdInformerOptions {
  kubeConfig: KubeConfig;
  kind: CrdKind;
  namespace?: string;
  logger: Logger;
  /** First restart delay after an error in ms (default 500), doubling up to 30 s. */
  restartDelayMs?: number;
}

/** Starts the informer; `stop()` ends it (idempotent). */
export function startCrdInformer(opts: CrdInformerOptions, h: CrdInformerHandlers): { stop(): Promise<void> } {
  const { kind, namespace, logger } = opts;
  const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  let stopped = false;
  const base = `/apis/${kind.group}/${kind.version}`;
  const path = namespace === undefined ? `${base}/${kind.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`;
  const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const q = { group: kind.group, version: kind.version, plural: kind.plural };
    const list = (namespace === undefined
      ? await api.listClusterCustomObject(q)
      : await api.listNamespacedCustomObject({ ...q, namespace })) as KubernetesListObject<KubernetesObject>;
    // client-node's ListWatch opens its watch after a list even when stop() came while the list was
    // in flight: a list answered after stop() fails instead, so no watch is left open.
    if (stopped) throw new Error('informer stopped');
    setTimeout(() => {
      if (!stopped) {
        h.error(undefined);
        h.synced();
      }
    }, 0);
    return list;
  };
  const informer = new ListWatch<KubernetesObject>(path, new BookmarkingWatch(opts.kubeConfig, () => stopped), listFn, false);
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
    const message = `${resourceName(kind)}: ${errorMessage(e)}`;
    logger.warn({ resource: resourceName(kind), retryInMs: delay }, `list/watch failed: ${message}`);
    h.error(message);
    timer = setTimeout(() => {
      if (!stopped) void informer.start();
    }, delay);
    delay = Math.min(delay * 2, 30_000);
  });
  void informer.start();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await informer.stop();
    },
  };
}
