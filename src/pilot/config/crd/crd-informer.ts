/**
 * One list/watch of a custom resource, on `@kubernetes/client-node`'s informer, with the two things
 * it leaves to the caller:
 * - it asks for watch bookmarks (`allowWatchBookmarks=true`), so an idle watch's resourceVersion
 *   keeps moving and a re-watch after a server-side close rarely meets 410 Gone;
 * - it restarts after an error (the informer stops on any error but 410, which it handles itself
 *   by relisting), with exponential backoff.
 * Relists after 410 and re-watches after a close are the informer's: it calls `delete` for objects
 * gone from the new list and `add`/`update` for the rest. The list/watch itself is
 * common/kube-informer.ts; this adds the custom-resource list call and the store's error and
 * synced callbacks.
 */
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { startKubeInformer } from '../../../common/kube-informer.ts';
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
  const { kind, namespace } = opts;
  const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const base = `/apis/${kind.group}/${kind.version}`;
  const path = namespace === undefined ? `${base}/${kind.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`;
  const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
    const q = { group: kind.group, version: kind.version, plural: kind.plural };
    return (namespace === undefined
      ? await api.listClusterCustomObject(q)
      : await api.listNamespacedCustomObject({ ...q, namespace })) as KubernetesListObject<KubernetesObject>;
  };
  const informer = startKubeInformer<KubernetesObject>(
    {
      kubeConfig: opts.kubeConfig,
      path,
      list,
      name: resourceName(kind),
      logger: opts.logger,
      ...(opts.restartDelayMs !== undefined ? { restartDelayMs: opts.restartDelayMs } : {}),
    },
    {
      upsert: (o) => h.upsert(o),
      remove: (o) => h.remove(o),
      failed: (message) => h.error(`${resourceName(kind)}: ${message}`),
      listed: () => {
        h.error(undefined);
        h.synced();
      },
    },
  );
  return { stop: () => informer.stop() };
}
