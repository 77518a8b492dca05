/**
 * An ImportSink that keeps MCS ServiceImport objects in the local cluster in step with what
 * federation imports (service-import-conversion.ts), so `kubectl get serviceimports` shows the
 * clusterset's services.
 *
 * Contract:
 * - `replaceCluster` / `removeCluster` only mark the affected ServiceImports dirty; a retrying
 *   queue reconciles each one (GET, then create / update spec / update status / delete), so a
 *   failure retries with backoff and a conflict (409) retries on the newer object.
 * - Writes happen only while `canWrite()` is true (the control-plane replica holding the Lease);
 *   call `resync()` when it becomes true.
 * - Only ServiceImports labelled `app.kubernetes.io/managed-by: meshfed` are updated or deleted;
 *   one a user made is left alone (and logged).
 * - At start (and on `resync()`) the managed ServiceImports present are listed, so those left by
 *   an earlier run and no longer imported are deleted (the orphan sweep).
 * - Nothing is written when the object already matches.
 */
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import type { ImportedEndpoint, ImportSink } from '../federation-interface.ts';
import { RetryingQueue } from '../retrying-queue.ts';
import { type DesiredServiceImport, MANAGED_BY, MANAGED_BY_LABEL, toServiceImports } from './service-import-conversion.ts';

const GROUP = 'multicluster.x-k8s.io';
const VERSION = 'v1alpha1';
const PLURAL = 'serviceimports';

/** Options of createServiceImportWriter. */
export interface ServiceImportWriterOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Whether this replica may write now (default: always). */
  canWrite?: () => boolean;
  /** First retry delay in ms (default 200). */
  retryBaseDelayMs?: number;
}

/** A running writer. */
export interface ServiceImportWriter extends ImportSink {
  /** Lists the managed ServiceImports again and reconciles every known one. */
  resync(): void;
  /** Resolves when no reconcile is pending or running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: unknown;
  status?: unknown;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Starts the writer: lists the managed ServiceImports at once (so orphans are swept). */
export function createServiceImportWriter(opts: ServiceImportWriterOptions): ServiceImportWriter {
  const { logger } = opts;
  const canWrite = opts.canWrite ?? (() => true);
  const api = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  const byCluster = new Map<string, readonly ImportedEndpoint[]>();
  let desired = new Map<string, DesiredServiceImport>();
  const known = new Set<string>();
  /** `cluster namespace/service` → when this writer first saw that export (MCS: the oldest export wins a conflict). */
  const firstSeen = new Map<string, number>();
  const stampFirstSeen = (cluster: string, endpoints: readonly ImportedEndpoint[]): void => {
    const now = Date.now();
    const keys = new Set(endpoints.map((ep) => `${cluster} ${ep.namespace}/${ep.service}`));
    for (const k of [...firstSeen.keys()]) if (k.startsWith(`${cluster} `) && !keys.has(k)) firstSeen.delete(k);
    for (const k of keys) if (!firstSeen.has(k)) firstSeen.set(k, now);
  };

  const split = (key: string): { namespace: string; name: string } => {
    const i = key.indexOf('/');
    return { namespace: key.slice(0, i), name: key.slice(i + 1) };
  };

  const get = async (namespace: string, name: string): Promise<KubeObject | undefined> => {
    try {
      return (await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name })) as KubeObject;
    } catch (e: unknown) {
      if (e instanceof ApiException && e.code === 404) return undefined;
      throw e;
    }
  };

  const reconcile = async (key: string): Promise<Result<void, Error>> => {
    if (!canWrite()) return ok(undefined);
    const { namespace, name } = split(key);
    const want = desired.get(key);
    const q = { group: GROUP, version: VERSION, plural: PLURAL, namespace, name };
    try {
      let current = await get(namespace, name);
      if (current && current.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY) {
        if (want) logger.warn({ serviceImport: key }, 'ServiceImport exists and is not managed by meshfed; left alone');
        known.delete(key);
        return ok(undefined);
      }
      if (!want) {
        if (current) {
          await api.deleteNamespacedCustomObject({ ...q, body: { preconditions: { resourceVersion: current.metadata?.resourceVersion ?? '' } } });
          logger.info({ serviceImport: key }, 'ServiceImport deleted');
        }
        known.delete(key);
        return ok(undefined);
      }
      if (!current) {
        current = (await api.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURAL,
          namespace,
          body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'ServiceImport', metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } }, spec: want.spec },
        })) as KubeObject;
        logger.info({ serviceImport: key }, 'ServiceImport created');
      } else if (canonical(current.spec) !== canonical(want.spec)) {
        current = (await api.replaceNamespacedCustomObject({ ...q, body: { ...current, spec: want.spec } })) as KubeObject;
      }
      if (canonical(current.status) !== canonical(want.status)) {
        await api.replaceNamespacedCustomObjectStatus({ ...q, body: { ...current, status: want.status } });
      }
      known.add(key);
      return ok(undefined);
    } catch (e: unknown) {
      return fail(new Error(`ServiceImport ${key}: ${errorMessage(e)}`));
    }
  };

  const queue = new RetryingQueue(reconcile, {
    ...(opts.retryBaseDelayMs !== undefined ? { baseDelayMs: opts.retryBaseDelayMs } : {}),
    onFailure: (key, attempt, err) => logger.warn({ serviceImport: key, attempt }, err.message),
  });

  const recompute = (): void => {
    const next = new Map(toServiceImports(byCluster, (c, ns, svc) => firstSeen.get(`${c} ${ns}/${svc}`) ?? 0).map((s) => [`${s.namespace}/${s.name}`, s]));
    const dirty = new Set<string>();
    for (const [key, s] of next) if (canonical(desired.get(key)) !== canonical(s)) dirty.add(key);
    for (const key of desired.keys()) if (!next.has(key)) dirty.add(key);
    desired = next;
    for (const key of dirty) queue.add(key);
  };

  const sweep = async (): Promise<void> => {
    try {
      const list = (await api.listClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      })) as { items?: KubeObject[] };
      for (const o of list.items ?? []) known.add(`${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`);
    } catch (e: unknown) {
      logger.warn({ err: errorMessage(e) }, 'cannot list ServiceImports; orphans are swept on the next resync');
    }
    for (const key of new Set([...known, ...desired.keys()])) queue.add(key);
  };
  let sweeping = sweep();

  return {
    replaceCluster(cluster, endpoints) {
      byCluster.set(cluster, [...endpoints]);
      stampFirstSeen(cluster, endpoints);
      recompute();
    },
    removeCluster(cluster) {
      stampFirstSeen(cluster, []);
      if (byCluster.delete(cluster)) recompute();
    },
    resync() {
      sweeping = sweeping.then(sweep);
    },
    async idle() {
      await sweeping;
      await queue.idle();
    },
    async close() {
      await sweeping;
      await queue.close();
    },
  };
}
