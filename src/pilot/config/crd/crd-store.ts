/**
 * A ConfigStore over Kubernetes custom resources: one informer per kind in CRD_KINDS, every object
 * validated by the same code as a file (crd-conversion.ts), so the store lists the same
 * ConfigObjects a folder store lists for the same documents.
 *
 * Contract, as config-interface.ts states it: `list()` is the last good state. An object whose new
 * generation does not validate keeps its last valid version and shows in `errors()`; a deleted
 * object (also one found gone by a relist after 410 Gone) drops out. Listeners run only when the
 * objects or errors actually changed, so status writes (which change only `.status`) do not cause
 * pushes.
 *
 * With `status` set, the store writes status back (crd-status.ts) while it holds the Lease
 * (crd-lease.ts): watch callbacks only mark an object dirty on a retrying queue; its handler
 * compares the wanted status with the stored one and PUTs the status subresource (with the read
 * resourceVersion, so a conflict retries on the newer object) only when they differ.
 */
import { ApiException, CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { errorMessage } from '../../../common/errors.ts';
import type { ExportConflictSource } from '../../../federation/federation-interface.ts';
import type { Logger } from '../../../common/log.ts';
import { fail, ok, type Result } from '../../../common/result.ts';
import { RetryingQueue } from '../../../federation/retrying-queue.ts';
import { ConfigError } from '../config-error.ts';
import type { ConfigStore } from '../config-interface.ts';
import { dedupeConfig } from '../config-load.ts';
import type { ParseOptions } from '../config-parse.ts';
import type { ConfigObject } from '../config-types.ts';
import { fromCustomResource } from './crd-conversion.ts';
import { CRD_KINDS, type CrdKind, resourceName } from './crd-kinds.ts';
import { startCrdInformer } from './crd-informer.ts';
import { createLeaseElector, type LeaseElector } from './crd-lease.ts';
import { desiredStatus, sameStatus } from './crd-status.ts';

/** Status write-back; without it the store only reads. */
export interface CrdStatusOptions {
  /** This replica's Lease holderIdentity. */
  identity: string;
  leaseNamespace: string;
  /** Default `meshfed-config-status`. */
  leaseName?: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /**
   * Where ServiceExports' `Conflict` condition comes from (the control plane's federation); on
   * its change every ServiceExport's status is recomputed. Without it Conflict stays Unknown.
   */
  exportConflicts?: ExportConflictSource;
}

/** Options of createCrdConfigStore. */
export interface CrdConfigStoreOptions extends ParseOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Watch one namespace; default all namespaces. */
  namespace?: string;
  /** The kinds to watch; default CRD_KINDS. */
  kinds?: readonly CrdKind[];
  status?: CrdStatusOptions;
  /** First informer restart delay after an error, in ms (default 500). */
  restartDelayMs?: number;
}

/** A ConfigStore fed by custom resources. */
export interface CrdConfigStore extends ConfigStore {
  /** Resolves once every kind has been listed once. */
  synced(): Promise<void>;
  /** True while this replica holds the status Lease. */
  isStatusWriter(): boolean;
  /** Resolves when no status write is pending or running. */
  statusIdle(): Promise<void>;
  /**
   * Stops informers, status writes and the Lease candidate, and waits for them; the Lease is
   * released unless `releaseLease` is false (as when a replica crashes). Idempotent; `close()`
   * is `stop()` with the Lease released.
   */
  stop(opts?: { releaseLease?: boolean }): Promise<void>;
}

interface Entry {
  kind: CrdKind;
  raw: KubernetesObject & Record<string, unknown>;
  /** The last valid version, kept while the current one is invalid. */
  good: ConfigObject | undefined;
  errors: ConfigError[];
}

const keyOf = (kind: CrdKind, o: KubernetesObject): string => `${resourceName(kind)}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

/** Starts the informers (and, with `status`, the Lease candidate). `close()` stops everything. */
export function createCrdConfigStore(opts: CrdConfigStoreOptions): CrdConfigStore {
  const { logger } = opts;
  const kinds = opts.kinds ?? CRD_KINDS;
  const parse: ParseOptions = opts.domainSuffix === undefined ? {} : { domainSuffix: opts.domainSuffix };
  const entries = new Map<string, Entry>();
  const informerErrors = new Map<string, string>();
  const listeners: (() => void)[] = [];
  let objects: ConfigObject[] = [];
  let errors: ConfigError[] = [];
  let fingerprint = '';

  const rebuild = (): void => {
    const all: ConfigObject[] = [];
    const errs: ConfigError[] = [];
    for (const e of entries.values()) {
      if (e.good) all.push(e.good);
      errs.push(...e.errors);
    }
    for (const [resource, message] of [...informerErrors.entries()].sort()) {
      errs.push(new ConfigError({ code: 'CONFIG_IO', source: `kubernetes:${resource}`, path: '', message }));
    }
    const deduped = dedupeConfig(all);
    errs.sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
    const next = JSON.stringify([deduped.objects, errs.map(String)]);
    if (next === fingerprint) return;
    const before = new Set(errors.map(String));
    fingerprint = next;
    objects = deduped.objects;
    errors = [...errs, ...deduped.errors];
    for (const e of errors) if (!before.has(String(e))) logger.warn({ code: e.code }, `config rejected: ${String(e)}`);
    for (const cb of listeners) cb();
  };

  // Status write-back.
  const customApi = opts.kubeConfig.makeApiClient(CustomObjectsApi);
  let elector: LeaseElector | undefined;
  const conflicts = opts.status?.exportConflicts;
  const writeStatus = async (key: string): Promise<Result<void, Error>> => {
    const e = entries.get(key);
    if (!e || !elector?.isLeader()) return ok(undefined);
    const previous = e.raw['status'];
    const wanted = desiredStatus(e.kind, {
      generation: e.raw.metadata?.generation ?? 0,
      errors: e.errors,
      keptLastGood: e.errors.length > 0 && e.good !== undefined,
      now: new Date().toISOString().replace(/\.[0-9]+Z$/, 'Z'),
      previous,
      ...(e.kind.status === 'mcs-export' && conflicts
        ? { conflict: conflicts.verdict(e.raw.metadata?.namespace ?? '', e.raw.metadata?.name ?? '') }
        : {}),
    });
    if (sameStatus(previous, wanted)) return ok(undefined);
    const md = e.raw.metadata ?? {};
    try {
      const body = { ...e.raw, status: wanted };
      const q = { group: e.kind.group, version: e.kind.version, plural: e.kind.plural, name: md.name ?? '', body };
      if (md.namespace === undefined) await customApi.replaceClusterCustomObjectStatus(q);
      else await customApi.replaceNamespacedCustomObjectStatus({ ...q, namespace: md.namespace });
      return ok(undefined);
    } catch (err: unknown) {
      // 404: deleted meanwhile (its DELETED event removes the entry); 409: a newer version is on its way.
      if (err instanceof ApiException && err.code === 404) return ok(undefined);
      return fail(new Error(`status of ${key}: ${errorMessage(err)}`));
    }
  };
  const queue = new RetryingQueue(writeStatus, {
    onFailure: (key, attempt, err) => logger.warn({ key, attempt }, err.message),
  });
  if (opts.status) {
    elector = createLeaseElector({
      kubeConfig: opts.kubeConfig,
      namespace: opts.status.leaseNamespace,
      name: opts.status.leaseName ?? 'meshfed-config-status',
      identity: opts.status.identity,
      logger,
      ...(opts.status.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: opts.status.leaseDurationSeconds } : {}),
      ...(opts.status.renewDeadlineMs !== undefined ? { renewDeadlineMs: opts.status.renewDeadlineMs } : {}),
      ...(opts.status.retryPeriodMs !== undefined ? { retryPeriodMs: opts.status.retryPeriodMs } : {}),
    });
    elector.onChange((leader) => {
      if (leader) for (const key of entries.keys()) queue.add(key);
    });
  }

  conflicts?.onChange(() => {
    if (!elector) return;
    for (const [key, e] of entries) if (e.kind.status === 'mcs-export') queue.add(key);
  });

  let pending = kinds.length;
  let resolveSynced: () => void = () => {};
  const syncedP = new Promise<void>((resolve) => {
    resolveSynced = resolve;
  });
  const informers = kinds.map((kind) => {
    let synced = false;
    return startCrdInformer(
      {
        kubeConfig: opts.kubeConfig,
        kind,
        logger,
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.restartDelayMs !== undefined ? { restartDelayMs: opts.restartDelayMs } : {}),
      },
      {
        upsert(o) {
          const key = keyOf(kind, o);
          const r = fromCustomResource(kind, o, parse);
          const prev = entries.get(key);
          const raw = o as Entry['raw'];
          entries.set(key, r.ok ? { kind, raw, good: r.value, errors: [] } : { kind, raw, good: prev?.good, errors: r.errors });
          rebuild();
          if (elector) queue.add(key);
        },
        remove(o) {
          entries.delete(keyOf(kind, o));
          rebuild();
        },
        error(message) {
          if (message === undefined) informerErrors.delete(resourceName(kind));
          else informerErrors.set(resourceName(kind), message);
          rebuild();
        },
        synced() {
          if (synced) return;
          synced = true;
          pending -= 1;
          if (pending === 0) resolveSynced();
        },
      },
    );
  });
  if (kinds.length === 0) resolveSynced();

  let stopping: Promise<void> | undefined;
  const stop = (o: { releaseLease?: boolean } = {}): Promise<void> => {
    stopping ??= (async () => {
      await Promise.all(informers.map((i) => i.stop()));
      await queue.close();
      await elector?.stop({ release: o.releaseLease !== false });
    })();
    return stopping;
  };
  return {
    list: () => [...objects],
    errors: () => [...errors],
    onChange(cb) {
      listeners.push(cb);
    },
    close: () => stop(),
    stop,
    synced: () => syncedP,
    isStatusWriter: () => elector?.isLeader() ?? false,
    statusIdle: () => queue.idle(),
  };
}
