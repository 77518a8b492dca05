/**
 * Publishes the mesh's root certificate in a cluster, as istiod's namespace controller and webhook
 * patcher do (root-cert-conversion.ts says what is written):
 * - the ConfigMap `meshfed-ca-root-cert` in every namespace: created when a namespace appears,
 *   repaired when it is edited, re-created when it is deleted;
 * - the `caBundle` of every webhook of the named webhook configurations, set when a configuration
 *   appears and repaired when it is edited.
 *
 * Contract:
 * - informers (src/common/kube-informer.ts) on Namespaces, on the ConfigMaps named
 *   `meshfed-ca-root-cert` and on the webhook configurations only mark a key dirty; a retrying
 *   queue reconciles it, reading the object itself from the API server (the caches may lag behind
 *   the publisher's own writes), so a failed or conflicting write (409, or a failed patch `test`)
 *   retries with backoff on the newer object;
 * - writes happen only while `canWrite()` is true (the replica holding the Lease); call `resync()`
 *   when it becomes true, which reconciles every namespace and configuration known;
 * - nothing is written when the objects already hold the root.
 */
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  type V1MutatingWebhookConfiguration,
  type V1Namespace,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import { type KubeInformer, startKubeInformer } from '../../common/kube-informer.ts';
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { RetryingQueue } from '../../federation/retrying-queue.ts';
import { caBundleOf, caBundlePatch, ROOT_CERT_CONFIGMAP, rootCertConfigMapAction } from './root-cert-conversion.ts';

/** Options of startRootCertPublisher. */
export interface RootCertPublisherOptions {
  kubeConfig: KubeConfig;
  /** The mesh's root certificate, PEM: the ConfigMaps' `root-cert.pem` and the webhooks' caBundle. */
  rootCertPem: string;
  /** Webhook configurations (by name) whose every webhook gets the root as its caBundle. */
  webhookConfigurations?: { validating?: readonly string[]; mutating?: readonly string[] };
  logger: Logger;
  /** Whether this replica may write now (default: always). */
  canWrite?: () => boolean;
  /** First retry delay of a failed write in ms (default 200). */
  retryBaseDelayMs?: number;
  /** First informer restart delay after a list/watch error in ms (default 500). */
  restartDelayMs?: number;
}

/** A running publisher. */
export interface RootCertPublisher {
  /** Reconciles every namespace and webhook configuration known (call when `canWrite` turns true). */
  resync(): void;
  /** Resolves once every informer has listed once. */
  synced(): Promise<void>;
  /** Resolves when no reconcile is pending or running. */
  idle(): Promise<void>;
  /** Stops the informers and the queue; idempotent. */
  close(): Promise<void>;
}

type WebhookKind = 'validating' | 'mutating';
type WebhookConfiguration = V1ValidatingWebhookConfiguration | V1MutatingWebhookConfiguration;

const NS = 'namespace/';

function isStatus(e: unknown, code: number): boolean {
  return e instanceof ApiException && e.code === code;
}

/** Starts the informers; each namespace and configuration is reconciled as it is listed. */
export function startRootCertPublisher(opts: RootCertPublisherOptions): RootCertPublisher {
  const { kubeConfig, logger, rootCertPem } = opts;
  const canWrite = opts.canWrite ?? (() => true);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = caBundleOf(rootCertPem);
  const wanted: Record<WebhookKind, ReadonlySet<string>> = {
    validating: new Set(opts.webhookConfigurations?.validating ?? []),
    mutating: new Set(opts.webhookConfigurations?.mutating ?? []),
  };
  const restart = opts.restartDelayMs !== undefined ? { restartDelayMs: opts.restartDelayMs } : {};

  // Keys are added only by informer events and resync(), both after everything below exists.
  const queue = new RetryingQueue((key) => reconcile(key), {
    ...(opts.retryBaseDelayMs !== undefined ? { baseDelayMs: opts.retryBaseDelayMs } : {}),
    onFailure: (key, attempt, err) => logger.warn({ key, attempt }, `root certificate publishing failed: ${err.message}`),
  });
  const mark = (key: string): void => queue.add(key);
  const nameOf = (o: KubernetesObject): string => o.metadata?.name ?? '';

  const namespaces: KubeInformer<V1Namespace> = startKubeInformer(
    { kubeConfig, path: '/api/v1/namespaces', list: () => core.listNamespace(), name: 'namespaces', logger, ...restart },
    { upsert: (o) => mark(`${NS}${nameOf(o)}`), remove: () => undefined },
  );
  const selector = `metadata.name=${ROOT_CERT_CONFIGMAP}`;
  const configMaps: KubeInformer<V1ConfigMap> = startKubeInformer(
    {
      kubeConfig,
      path: '/api/v1/configmaps',
      fieldSelector: selector,
      list: () => core.listConfigMapForAllNamespaces({ fieldSelector: selector }),
      name: `configmaps ${ROOT_CERT_CONFIGMAP}`,
      logger,
      ...restart,
    },
    { upsert: (o) => mark(`${NS}${o.metadata?.namespace ?? ''}`), remove: (o) => mark(`${NS}${o.metadata?.namespace ?? ''}`) },
  );
  const webhookInformer = <T extends WebhookConfiguration>(kind: WebhookKind, resource: string, list: () => Promise<{ items: T[] }>): KubeInformer<T> | undefined => {
    if (wanted[kind].size === 0) return undefined;
    const markIfWanted = (o: T): void => {
      if (wanted[kind].has(nameOf(o))) mark(`${kind}/${nameOf(o)}`);
    };
    return startKubeInformer<T>(
      { kubeConfig, path: `/apis/admissionregistration.k8s.io/v1/${resource}`, list, name: resource, logger, ...restart },
      { upsert: markIfWanted, remove: () => undefined },
    );
  };
  const webhooks: Record<WebhookKind, KubeInformer<WebhookConfiguration> | undefined> = {
    validating: webhookInformer('validating', 'validatingwebhookconfigurations', () => admission.listValidatingWebhookConfiguration()),
    mutating: webhookInformer('mutating', 'mutatingwebhookconfigurations', () => admission.listMutatingWebhookConfiguration()),
  };

  /** The object now, read from the API server (the informer's cache may lag behind this writer's own writes). */
  const fresh = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch (e: unknown) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  };

  const reconcileNamespace = async (ns: string): Promise<void> => {
    const namespace = namespaces.get(ns);
    if (namespace === undefined) return;
    const current = await fresh(() => core.readNamespacedConfigMap({ namespace: ns, name: ROOT_CERT_CONFIGMAP }));
    const action = rootCertConfigMapAction(namespace, current, rootCertPem);
    if (action.action === 'create') {
      await core.createNamespacedConfigMap({ namespace: ns, body: action.body as V1ConfigMap });
      logger.info({ namespace: ns, configMap: ROOT_CERT_CONFIGMAP }, 'root certificate published');
    } else if (action.action === 'update') {
      await core.replaceNamespacedConfigMap({ namespace: ns, name: ROOT_CERT_CONFIGMAP, body: action.body as V1ConfigMap });
      logger.info({ namespace: ns, configMap: ROOT_CERT_CONFIGMAP }, 'root certificate repaired');
    }
  };

  const reconcileWebhooks = async (kind: WebhookKind, name: string): Promise<void> => {
    if (webhooks[kind]?.get(name) === undefined) return;
    const current = await fresh<WebhookConfiguration>(() =>
      kind === 'validating' ? admission.readValidatingWebhookConfiguration({ name }) : admission.readMutatingWebhookConfiguration({ name }),
    );
    if (current === undefined) return;
    const body = caBundlePatch(current, caBundle);
    if (body.length === 0) return;
    const patch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    if (kind === 'validating') await admission.patchValidatingWebhookConfiguration({ name, body }, patch);
    else await admission.patchMutatingWebhookConfiguration({ name, body }, patch);
    logger.info({ [kind === 'validating' ? 'validatingWebhookConfiguration' : 'mutatingWebhookConfiguration']: name }, 'webhook caBundle set to the mesh root');
  };

  const reconcile = async (key: string): Promise<Result<void, Error>> => {
    if (!canWrite()) return ok(undefined);
    try {
      if (key.startsWith(NS)) await reconcileNamespace(key.slice(NS.length));
      else {
        const i = key.indexOf('/');
        await reconcileWebhooks(key.slice(0, i) as WebhookKind, key.slice(i + 1));
      }
      return ok(undefined);
    } catch (e: unknown) {
      // 404: deleted meanwhile (its informer event follows); 409 / 422 (a failed test): the cache is
      // behind a concurrent change, and the retry reads the newer object.
      if (isStatus(e, 404)) return ok(undefined);
      return fail(new Error(`${key}: ${errorMessage(e)}`));
    }
  };
  const informers = [namespaces, configMaps, webhooks.validating, webhooks.mutating].filter((i) => i !== undefined);
  const synced = Promise.all(informers.map((i) => i.synced())).then(() => undefined);

  const resync = (): void => {
    for (const ns of namespaces.list()) queue.add(`${NS}${nameOf(ns)}`);
    for (const kind of ['validating', 'mutating'] as const) for (const name of wanted[kind]) queue.add(`${kind}/${name}`);
  };

  let closing: Promise<void> | undefined;
  return {
    resync,
    synced: () => synced,
    idle: async () => {
      await synced;
      await queue.idle();
    },
    close() {
      closing ??= (async () => {
        await Promise.all(informers.map((i) => i.stop()));
        await queue.close();
      })();
      return closing;
    },
  };
}
