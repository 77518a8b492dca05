import type { ClusterConfig, EndpointConfig, ProxyConfig, SocketAddr } from '../../xds/config-types.ts';
import { DnsEndpoints } from './dns-endpoints.ts';
import { createDnsLookup, type DnsLookup } from './dns-resolver.ts';
import type { DnsResolutionError } from './errors.ts';
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
  /** Stops DNS re-resolution (STRICT_DNS / LOGICAL_DNS clusters). */
  close(): void;
}

/** Options of createClusterManager beyond time and randomness. */
export interface ClusterManagerOptions {
  /** Resolver for DNS clusters with these servers (empty: system); default c-ares (dns-resolver.ts). */
  dnsLookup?: (servers: readonly SocketAddr[]) => DnsLookup;
  /** Called when a DNS query of a cluster fails (its hosts stay as they were). */
  onDnsError?: (cluster: string, error: DnsResolutionError) => void;
}

const NO_ENDPOINTS: readonly EndpointConfig[] = Object.freeze([]);

/**
 * A cluster's endpoints: inline for STATIC, else the load assignment of its EDS service name.
 * (DNS clusters' hosts come from their resolver, not from here.)
 */
export function endpointsOf(cluster: ClusterConfig, config: ProxyConfig): readonly EndpointConfig[] {
  if (cluster.type === 'STATIC') return cluster.staticEndpoints ?? NO_ENDPOINTS;
  if (cluster.type === 'STRICT_DNS' || cluster.type === 'LOGICAL_DNS') return NO_ENDPOINTS;
  return config.endpoints.get(cluster.edsServiceName)?.endpoints ?? config.endpoints.get(cluster.name)?.endpoints ?? NO_ENDPOINTS;
}

const isDns = (c: ClusterConfig): boolean => c.type === 'STRICT_DNS' || c.type === 'LOGICAL_DNS';

/**
 * The ClusterManager. DNS clusters (STRICT_DNS / LOGICAL_DNS) get their hosts from a DnsEndpoints
 * each, which re-resolves on its own timers and updates the cluster in place (so ejections and
 * active counts of addresses that remain are kept).
 */
export function createClusterManager(runtime: Partial<ClusterRuntime> = {}, options: ClusterManagerOptions = {}): ClusterManager {
  const rt: ClusterRuntime = { clock: runtime.clock ?? (() => performance.now()), random: runtime.random ?? Math.random };
  const clusters = new Map<string, Cluster>();
  const dns = new Map<string, { resolvers: string; driver: DnsEndpoints }>();
  const lookupFor = options.dnsLookup ?? ((servers: readonly SocketAddr[]) => createDnsLookup(servers));
  const dropDns = (name: string): void => {
    dns.get(name)?.driver.close();
    dns.delete(name);
  };
  const syncDns = (name: string, c: ClusterConfig, cluster: Cluster): void => {
    const resolvers = JSON.stringify(c.dns?.resolvers ?? []);
    const existing = dns.get(name);
    if (existing && existing.resolvers === resolvers) {
      existing.driver.reconfigure(c);
      return;
    }
    if (existing) existing.driver.close();
    const driver = new DnsEndpoints(c, lookupFor(c.dns?.resolvers ?? []), {
      changed: (endpoints) => {
        if (clusters.get(name) === cluster) cluster.update(cluster.config, endpoints);
      },
      failed: (e) => options.onDnsError?.(name, e),
    });
    dns.set(name, { resolvers, driver });
  };
  return {
    update(config) {
      for (const name of [...clusters.keys()]) {
        if (config.clusters.has(name)) continue;
        clusters.delete(name);
        dropDns(name);
      }
      for (const [name, c] of config.clusters) {
        const existing = clusters.get(name);
        const endpoints = isDns(c) ? (dns.get(name)?.driver.endpoints ?? NO_ENDPOINTS) : endpointsOf(c, config);
        let cluster: Cluster;
        if (existing) {
          existing.update(c, endpoints);
          cluster = existing;
        } else {
          cluster = new Cluster(c, endpoints, rt);
          clusters.set(name, cluster);
        }
        if (isDns(c)) syncDns(name, c, cluster);
        else dropDns(name);
      }
    },
    close() {
      for (const name of [...dns.keys()]) dropDns(name);
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
