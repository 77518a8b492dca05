import type { ClusterConfig, EndpointConfig, ProxyConfig } from '../../xds/config-types.ts';
import { Cluster, type ClusterRuntime, type ClusterStats, type PickContext, type PickResult, type UpstreamCluster } from './upstream-cluster.ts';

/** `pick` on a cluster name that is not configured (Envoy's NC flag). */
export interface ClusterNotFound {
  readonly ok: false;
  readonly status: 503;
  readonly flag: 'NC';
  readonly message: string;
}

/**
 * The proxy's clusters, one UpstreamCluster per cluster name. Contract:
 * - `update(config)` after every applied ProxyConfig: clusters that remain are updated in place
 *   (hosts that remain keep active counts, ejections and LB state); new ones are created; those
 *   no longer configured are dropped (leases still held on them release harmlessly).
 * - `pick(name, ctx)` answers NC when `name` is not configured, else delegates to the cluster.
 */
export interface ClusterManager {
  update(config: ProxyConfig): void;
  get(name: string): UpstreamCluster | undefined;
  pick(name: string, ctx: PickContext): PickResult | ClusterNotFound;
  stats(): ClusterStats[];
}

const NO_ENDPOINTS: readonly EndpointConfig[] = Object.freeze([]);

/** A cluster's endpoints: inline for STATIC, else the load assignment of its EDS service name. */
export function endpointsOf(cluster: ClusterConfig, config: ProxyConfig): readonly EndpointConfig[] {
  if (cluster.type === 'STATIC') return cluster.staticEndpoints ?? NO_ENDPOINTS;
  return config.endpoints.get(cluster.edsServiceName)?.endpoints ?? config.endpoints.get(cluster.name)?.endpoints ?? NO_ENDPOINTS;
}

export function createClusterManager(runtime: Partial<ClusterRuntime> = {}): ClusterManager {
  const rt: ClusterRuntime = { clock: runtime.clock ?? (() => performance.now()), random: runtime.random ?? Math.random };
  const clusters = new Map<string, Cluster>();
  return {
    update(config) {
      for (const name of [...clusters.keys()]) if (!config.clusters.has(name)) clusters.delete(name);
      for (const [name, c] of config.clusters) {
        const endpoints = endpointsOf(c, config);
        const existing = clusters.get(name);
        if (existing) existing.update(c, endpoints);
        else clusters.set(name, new Cluster(c, endpoints, rt));
      }
    },
    get: (name) => clusters.get(name),
    pick(name, ctx) {
      const c = clusters.get(name);
      if (!c) return { ok: false, status: 503, flag: 'NC', message: `cluster "${name}" not found` };
      return c.pick(ctx);
    },
    stats: () => [...clusters.values()].map((c) => c.stats()),
  };
}
