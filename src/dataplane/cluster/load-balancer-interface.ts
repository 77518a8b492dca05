/**
 * The contract of a load balancer (Envoy's `lb_policy`), one implementation per
 * `load-balancer-<name>.ts`, chosen by name through `load-balancer-registry.ts`.
 *
 * Who calls it: an UpstreamCluster, once per host set (a priority, or a locality inside one).
 * Order: `update(hosts)` whenever the set changes (config push, ejection, health change), then
 * any number of `pick(ctx)`. `update` may be called with the same host keys again: state of hosts
 * that remain (round-robin scores, ring positions) is kept. `pick` returns an index into the
 * last `hosts` given, or -1 when no host can be picked; it must not allocate on the hot path.
 */

/** A host as a load balancer sees it. `active` is read at pick time (least request). */
export interface LbHost {
  /** Stable identity across updates: the dial address `host:port`. */
  readonly key: string;
  /** `load_balancing_weight`; 0 means never picked. */
  readonly weight: number;
  /** Requests in flight to this host. */
  readonly active: number;
}

/** Per-request input. `hashKey` is computed by the router from the route's `hash_policy`. */
export interface LoadBalancerContext {
  hashKey?: bigint | undefined;
}

export interface LoadBalancer {
  /** The registered name (Envoy's lb_policy: `ROUND_ROBIN`, `RING_HASH`, ...). */
  readonly name: string;
  update(hosts: readonly LbHost[]): void;
  pick(ctx: LoadBalancerContext): number;
}

/** Options every factory receives; each implementation reads only its own part. */
export interface LoadBalancerConfig {
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random: () => number;
  ringHash?: { minimumRingSize: number; maximumRingSize: number };
  maglev?: { tableSize: number };
  leastRequest?: { choiceCount: number };
}

export type LoadBalancerFactory = (config: LoadBalancerConfig) => LoadBalancer;

/** Picks a random index among hosts with weight > 0, proportionally to weight; -1 if none. */
export function weightedRandomIndex(hosts: readonly LbHost[], random: () => number): number {
  let total = 0;
  for (const h of hosts) total += h.weight;
  if (total <= 0) return -1;
  let point = random() * total;
  for (let i = 0; i < hosts.length; i++) {
    const w = hosts[i]!.weight;
    if (w <= 0) continue;
    if (point < w) return i;
    point -= w;
  }
  for (let i = hosts.length - 1; i >= 0; i--) if (hosts[i]!.weight > 0) return i;
  return -1;
}
