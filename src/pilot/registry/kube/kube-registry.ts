/**
 * The `kube` registry: `@kubernetes/client-node` informers on Services, EndpointSlices, Pods and
 * Nodes of one cluster, joined by conversion.ts into one shard for that cluster. The informers own
 * list/watch: a watch the server closes is re-opened from the last resourceVersion; a 410 Gone
 * (expired resourceVersion) forces a relist, whose result replaces the cache (objects gone meanwhile
 * are deleted). Any other failure stops client-node's informer; this registry restarts it after
 * `retryDelayMs`, and the restart relists.
 *
 * The informers are client-node's (what `makeInformer` builds) with one addition: their watches
 * ask for bookmarks (`allowWatchBookmarks`), so a quiet watch's resourceVersion keeps up with the
 * server's and a re-watch after a close does not fall behind the compacted history (a needless 410
 * and relist).
 *
 * Every informer event schedules one rebuild (coalesced on the next macrotask); the rebuild
 * recomputes the whole shard from the informers' caches, so no event can be half-applied, and
 * replaces it whole. Listeners run after the shard was replaced, only when its data changed. An
 * endpoint equal to its previous version keeps its object, for structural sharing downstream.
 */
import {
  CoreV1Api,
  DiscoveryV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type KubernetesListObject,
  ListWatch,
  type ObjectCache,
  type V1EndpointSlice,
  type V1Node,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { errorMessage } from '../../../common/errors.ts';
import { BookmarkingWatch } from '../../../common/kube-informer.ts';
import type { Logger } from '../../../common/log.ts';
import { sameData } from '../../../common/same-data.ts';
import type { RegistryShard, ServiceRegistry } from '../registry-interface.ts';
import type { RegistryEndpoint, RegistryService } from '../registry-types.ts';
import { convertEndpointSlice, convertService, SERVICE_NAME_LABEL } from './conversion.ts';

export interface KubeRegistryOptions {
  /** The cluster the API server serves; every service and endpoint is of this cluster. */
  readonly cluster: string;
  readonly domainSuffix: string;
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** This cluster's east-west gateway address, when known. */
  readonly gatewayAddress?: string;
  /** Wait before restarting an informer that failed (not 410, not a close); default 1000 ms. */
  readonly retryDelayMs?: number;
}

export interface KubeRegistry extends ServiceRegistry {
  /** Resolves once every informer has listed once and is watching (or failed its first try). */
  synced(): Promise<void>;
  /** Objects refused by the conversion, each naming its object and field path. */
  errors(): string[];
}

type Watched<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const endpointKey = (e: RegistryEndpoint): string => `${e.hostname}|${e.servicePort}|${e.address}|${e.port}|${e.workload}`;

/** By hostname, address, service port, endpoint port, workload: a workload's ports side by side. */
function endpointOrder(a: RegistryEndpoint, b: RegistryEndpoint): number {
  return (
    byText(a.hostname, b.hostname) ||
    byText(a.address, b.address) ||
    a.servicePort - b.servicePort ||
    a.port - b.port ||
    byText(a.workload, b.workload)
  );
}

export function createKubeRegistry(opts: KubeRegistryOptions): KubeRegistry {
  if (opts.cluster === '') throw new TypeError('invalid cluster: must be a non-empty string');
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  if (!Number.isInteger(retryDelayMs) || retryDelayMs < 0) throw new TypeError('invalid retryDelayMs: must be a non-negative integer');
  const kc = opts.kubeConfig;
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  let closed = false;
  // client-node's ListWatch opens a watch after a list even when stop() came while the list (or the
  // watch request) was in flight: a list answered after close() fails, and a watch opened after it
  // is aborted, so close() leaves nothing open.
  const watch = new BookmarkingWatch(kc, () => closed);
  const guarded =
    <T extends KubernetesObject>(list: () => Promise<KubernetesListObject<T>>) =>
    async (): Promise<KubernetesListObject<T>> => {
      const l = await list();
      if (closed) throw new Error('registry closed');
      return l;
    };
  const services: Watched<V1Service> = new ListWatch('/api/v1/services', watch, guarded(() => core.listServiceForAllNamespaces()), false);
  const slices: Watched<V1EndpointSlice> = new ListWatch(
    '/apis/discovery.k8s.io/v1/endpointslices',
    watch,
    guarded(() => discovery.listEndpointSliceForAllNamespaces()),
    false,
  );
  const pods: Watched<V1Pod> = new ListWatch('/api/v1/pods', watch, guarded(() => core.listPodForAllNamespaces()), false);
  const nodes: Watched<V1Node> = new ListWatch('/api/v1/nodes', watch, guarded(() => core.listNode()), false);
  const informers: [string, Watched<KubernetesObject>][] = [
    ['services', services],
    ['endpointslices', slices],
    ['pods', pods],
    ['nodes', nodes],
  ];

  const listeners: (() => void)[] = [];
  let shard: RegistryShard = Object.freeze({
    registry: 'kube',
    cluster: opts.cluster,
    services: Object.freeze([]),
    endpoints: Object.freeze([]),
    imported: Object.freeze([]),
    ...(opts.gatewayAddress !== undefined ? { gatewayAddress: opts.gatewayAddress } : {}),
  });
  let problems: string[] = [];
  let previousEndpoints = new Map<string, RegistryEndpoint>();
  let scheduled: NodeJS.Immediate | undefined;
  const retries = new Set<NodeJS.Timeout>();

  const rebuild = (): void => {
    scheduled = undefined;
    if (closed) return;
    const errors: string[] = [];
    const converted = new Map<string, { service: RegistryService; publishNotReady: boolean }>();
    for (const svc of services.list()) {
      const r = convertService(svc, opts.cluster, opts.domainSuffix);
      if (r.kind === 'invalid') errors.push(...r.errors);
      if (r.kind !== 'service') continue;
      converted.set(`${r.service.namespace}/${r.service.name}`, { service: r.service, publishNotReady: svc.spec?.publishNotReadyAddresses === true });
    }
    const endpoints: RegistryEndpoint[] = [];
    for (const slice of slices.list()) {
      const owner = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      const svc = owner !== undefined ? converted.get(`${slice.metadata?.namespace ?? ''}/${owner}`) : undefined;
      if (svc === undefined) continue;
      endpoints.push(
        ...convertEndpointSlice(slice, {
          cluster: opts.cluster,
          service: svc.service,
          publishNotReadyAddresses: svc.publishNotReady,
          pod: (ns, name) => pods.get(name, ns),
          node: (name) => nodes.get(name),
        }),
      );
    }
    const kept = new Map<string, RegistryEndpoint>();
    const stable = endpoints.map((e) => {
      const key = endpointKey(e);
      const prev = previousEndpoints.get(key);
      const out = prev !== undefined && sameData(prev, e) ? prev : e;
      kept.set(key, out);
      return out;
    });
    stable.sort(endpointOrder);
    const next: RegistryShard = Object.freeze({
      ...shard,
      services: Object.freeze([...converted.values()].map((s) => s.service).sort((a, b) => byText(a.hostname, b.hostname))),
      endpoints: Object.freeze(stable),
    });
    previousEndpoints = kept;
    problems = errors.sort();
    if (sameData(next, shard)) return;
    shard = next;
    for (const cb of listeners) cb();
  };
  const schedule = (): void => {
    if (closed || scheduled !== undefined) return;
    scheduled = setImmediate(rebuild);
  };

  const start = (name: string, informer: Watched<KubernetesObject>): Promise<void> =>
    informer.start().catch((e: unknown) => {
      opts.logger.warn({ resource: name, err: errorMessage(e) }, 'kube informer failed to start; retrying');
    });
  for (const [name, informer] of informers) {
    for (const verb of ['add', 'update', 'delete'] as const) informer.on(verb, schedule);
    informer.on('error', (err: unknown) => {
      if (closed) return;
      opts.logger.warn({ resource: name, err: errorMessage(err) }, 'kube watch failed; restarting after a delay');
      const t = setTimeout(() => {
        retries.delete(t);
        if (!closed) void start(name, informer);
      }, retryDelayMs);
      retries.add(t);
    });
  }
  const started = Promise.all(informers.map(([name, informer]) => start(name, informer))).then(() => undefined);

  return {
    name: 'kube',
    shards: () => [shard],
    synced: () => started,
    errors: () => [...problems],
    onChange(cb) {
      listeners.push(cb);
    },
    close() {
      if (closed) return;
      closed = true;
      if (scheduled !== undefined) clearImmediate(scheduled);
      for (const t of retries) clearTimeout(t);
      retries.clear();
      listeners.length = 0;
      for (const [, informer] of informers) void informer.stop();
    },
  };
}
