import type { ClusterConfig, EndpointConfig } from '../../xds/config-types.ts';
import { CircuitBreaker, DEFAULT_THRESHOLDS, type Overflow } from './circuit-breaker.ts';
import type { LbHost, LoadBalancer, LoadBalancerContext } from './load-balancer-interface.ts';
import { createLoadBalancer, HASH_BASED_LB_POLICIES } from './load-balancer-registry.ts';
import { type Outcome, OutlierDetector, type OutlierHostState } from './outlier-detector.ts';
import { choosePriority, computePriorityLoad, DEFAULT_HEALTHY_PANIC_THRESHOLD, localityEffectiveWeight } from './priority-set.ts';

/** Per-request input of `UpstreamCluster.pick`. */
export interface PickContext {
  /** The request's hash key (route `hash_policy`); RING_HASH / MAGLEV use it, and so does priority choice. */
  hashKey?: bigint | undefined;
  /** The request is a retry: it counts against `max_retries`. */
  retry?: boolean | undefined;
  /**
   * Priorities a retry leaves out (`previous_priorities`): their health counts as 0 in the
   * priority load. When no healthy host is left outside them, the normal load applies (Envoy's reset).
   */
  excludedPriorities?: ReadonlySet<number> | undefined;
  /** A TCP proxy connection: counts against `max_connections` (overflow: UO), never a retry. */
  connection?: boolean | undefined;
}

/** A host picked for one request. `release()` must be called once when the request ends (idempotent). */
export interface PickedHost {
  readonly ok: true;
  readonly endpoint: EndpointConfig;
  release(): void;
  /** Same as `cluster.reportOutcome(endpoint, outcome)`, for the host this lease holds. */
  report(outcome: Outcome): void;
}

/** Why no host was picked: UH (no healthy upstream) or UO (circuit breaker overflow). */
export interface PickRefused {
  readonly ok: false;
  readonly status: 503;
  readonly flag: 'UH' | 'UO';
  readonly message: string;
}

export type PickResult = PickedHost | PickRefused;

/** One host in `ClusterStats`. */
export interface HostStats {
  address: string;
  priority: number;
  weight: number;
  active: number;
  healthy: boolean;
  ejected: boolean;
  ejections: { consecutive5xx: number; consecutiveGatewayFailure: number };
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
}

/** A cluster's counters, for the admin `/clusters` page and tests. */
export interface ClusterStats {
  name: string;
  lbPolicy: string;
  activeRequests: number;
  activeRetries: number;
  overflows: Record<Overflow, number>;
  /** Percent of load per priority level, and which levels are in panic. */
  priorityLoad: number[];
  panic: boolean[];
  hosts: HostStats[];
}

/**
 * One upstream cluster (Envoy's cluster: load balancer, priorities and localities, outlier
 * detection, circuit breakers), owned by a ClusterManager and shared by every listener of a
 * proxy. Contract:
 * - `pick` chooses a host for one request, or refuses with UH / UO. A picked host must be
 *   released exactly once when the request ends (response finished, failed or aborted); until
 *   then it counts as active (least request, circuit breakers).
 * - `reportOutcome` feeds outlier detection (a no-op when the cluster has none); call it once per
 *   request with what happened upstream.
 * - The manager calls `update` on each config push: hosts that remain (same address) keep their
 *   active counts, ejections and load-balancer state.
 */
export interface UpstreamCluster {
  readonly name: string;
  readonly config: ClusterConfig;
  pick(ctx: PickContext): PickResult;
  reportOutcome(endpoint: EndpointConfig, outcome: Outcome): void;
  stats(): ClusterStats;
}

/** Sources of time and randomness, injected so tests are deterministic. */
export interface ClusterRuntime {
  /** Milliseconds, monotonic. */
  clock: () => number;
  /** Uniform in [0, 1). */
  random: () => number;
}

class Host implements LbHost, OutlierHostState {
  readonly key: string;
  endpoint: EndpointConfig;
  weight: number;
  active = 0;
  ejected = false;
  ejectedAtMs = 0;
  ejectionMultiplier = 0;
  consecutive5xx = 0;
  consecutiveGatewayFailure = 0;
  ejectionsConsecutive5xx = 0;
  ejectionsConsecutiveGatewayFailure = 0;

  constructor(key: string, endpoint: EndpointConfig) {
    this.key = key;
    this.endpoint = endpoint;
    this.weight = endpoint.weight;
  }

  get healthy(): boolean {
    return this.endpoint.healthy && !this.ejected;
  }
}

/** A set of hosts balanced by one load balancer. */
interface HostSet {
  hosts: Host[];
  lb: LoadBalancer;
}

/** One priority level, rebuilt whenever hosts or their health change. */
interface Level {
  priority: number;
  all: HostSet;
  healthy: HostSet;
  /** Locality-weighted LB: healthy hosts per locality, with smooth round robin over localities. */
  localities?: { sets: HostSet[]; weights: number[]; scores: number[]; total: number };
}

class Lease implements PickedHost {
  readonly ok = true;
  readonly endpoint: EndpointConfig;
  readonly #cluster: Cluster;
  readonly #host: Host;
  readonly #retry: boolean;
  #released = false;

  constructor(cluster: Cluster, host: Host, retry: boolean) {
    this.#cluster = cluster;
    this.#host = host;
    this.endpoint = host.endpoint;
    this.#retry = retry;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.active--;
    this.#cluster.breaker.release(this.#retry);
  }

  report(outcome: Outcome): void {
    this.#cluster.reportHost(this.#host, outcome);
  }
}

/**
 * A host's identity: its address, plus the port actually dialled when it differs (`inboundPort`),
 * plus its endpoint-qualified SNI (`sni`): remote endpoints behind one gateway share its address
 * but are distinct hosts (own load-balancer share, outlier state, active count and connection).
 */
export function hostKey(e: EndpointConfig): string {
  const base = e.inboundPort === undefined ? `${e.address.host}:${e.address.port}` : `${e.address.host}:${e.address.port}/${e.inboundPort}`;
  return e.sni === undefined ? base : `${base}#${e.sni}`;
}

function localityKey(e: EndpointConfig): string {
  const l = e.locality;
  return l ? `${l.region ?? ''}/${l.zone ?? ''}/${l.subZone ?? ''}` : '';
}

function sameLbOptions(a: ClusterConfig, b: ClusterConfig): boolean {
  return (
    a.lbPolicy === b.lbPolicy &&
    JSON.stringify([a.ringHash, a.maglev, a.leastRequest, a.localityWeightedLb]) ===
      JSON.stringify([b.ringHash, b.maglev, b.leastRequest, b.localityWeightedLb])
  );
}

/** The UpstreamCluster implementation; created and updated only by the ClusterManager. */
export class Cluster implements UpstreamCluster {
  readonly name: string;
  config: ClusterConfig;
  readonly breaker: CircuitBreaker;
  readonly #runtime: ClusterRuntime;
  #endpoints: readonly EndpointConfig[] = [];
  #hosts: Host[] = [];
  #byKey = new Map<string, Host>();
  #byEndpoint = new Map<EndpointConfig, Host>();
  #outlier: OutlierDetector | undefined;
  #lbs = new Map<string, LoadBalancer>();
  #levels: Level[] = [];
  #load: number[] = [];
  #panic: boolean[] = [];
  #dirty = true;
  readonly #noHost: PickRefused;

  constructor(config: ClusterConfig, endpoints: readonly EndpointConfig[], runtime: ClusterRuntime) {
    this.name = config.name;
    this.config = config;
    this.#runtime = runtime;
    this.breaker = new CircuitBreaker(config.circuitBreakers ?? DEFAULT_THRESHOLDS);
    this.#noHost = Object.freeze({ ok: false, status: 503, flag: 'UH', message: `no healthy upstream for "${config.name}"` });
    this.update(config, endpoints);
  }

  /** Applies a pushed config and endpoint list in place (see UpstreamCluster). */
  update(config: ClusterConfig, endpoints: readonly EndpointConfig[]): void {
    if (config !== this.config) {
      if (!sameLbOptions(config, this.config)) this.#lbs.clear();
      this.breaker.thresholds = config.circuitBreakers ?? DEFAULT_THRESHOLDS;
      this.config = config;
      this.#dirty = true;
    }
    const od = config.outlierDetection;
    if (JSON.stringify(od) !== JSON.stringify(this.#outlier?.config)) {
      this.#outlier = od ? new OutlierDetector(od, this.#runtime.clock, this.#runtime.random) : undefined;
      if (!od) for (const h of this.#hosts) h.ejected = false;
      this.#dirty = true;
    }
    if (endpoints === this.#endpoints) return;
    this.#endpoints = endpoints;
    const byKey = new Map<string, Host>();
    const byEndpoint = new Map<EndpointConfig, Host>();
    const hosts: Host[] = [];
    for (const e of endpoints) {
      const key = hostKey(e);
      if (byKey.has(key)) continue;
      let h = this.#byKey.get(key);
      if (h) {
        h.endpoint = e;
        h.weight = e.weight;
      } else {
        h = new Host(key, e);
      }
      byKey.set(key, h);
      byEndpoint.set(e, h);
      hosts.push(h);
    }
    this.#hosts = hosts;
    this.#byKey = byKey;
    this.#byEndpoint = byEndpoint;
    this.#dirty = true;
  }

  #lb(key: string, hosts: Host[]): HostSet {
    let lb = this.#lbs.get(key);
    if (!lb) {
      const c = this.config;
      lb = createLoadBalancer(c.lbPolicy, {
        random: this.#runtime.random,
        ...(c.ringHash ? { ringHash: c.ringHash } : {}),
        ...(c.maglev ? { maglev: c.maglev } : {}),
        ...(c.leastRequest ? { leastRequest: c.leastRequest } : {}),
      });
      this.#lbs.set(key, lb);
    }
    lb.update(hosts);
    return { hosts, lb };
  }

  #rebuild(): void {
    this.#dirty = false;
    const byPriority = new Map<number, Host[]>();
    for (const h of this.#hosts) {
      const list = byPriority.get(h.endpoint.priority);
      if (list) list.push(h);
      else byPriority.set(h.endpoint.priority, [h]);
    }
    const priorities = [...byPriority.keys()].sort((a, b) => a - b);
    const used = new Set<string>();
    const set = (key: string, hosts: Host[]): HostSet => {
      used.add(key);
      return this.#lb(key, hosts);
    };
    const localityWeighted = this.config.localityWeightedLb === true && !HASH_BASED_LB_POLICIES.has(this.config.lbPolicy);
    this.#levels = priorities.map((priority) => {
      const all = byPriority.get(priority) ?? [];
      const healthy = all.filter((h) => h.healthy);
      const level: Level = { priority, all: set(`${priority}|all`, all), healthy: set(`${priority}|healthy`, healthy) };
      if (localityWeighted) {
        const groups = new Map<string, Host[]>();
        for (const h of all) {
          const k = localityKey(h.endpoint);
          const g = groups.get(k);
          if (g) g.push(h);
          else groups.set(k, [h]);
        }
        const sets: HostSet[] = [];
        const weights: number[] = [];
        for (const [k, members] of [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
          const up = members.filter((h) => h.healthy);
          const w = localityEffectiveWeight(members[0]?.endpoint.localityWeight ?? 0, { total: members.length, healthy: up.length });
          sets.push(set(`${priority}|locality|${k}`, up));
          weights.push(w);
        }
        const previous = this.#levels.find((l) => l.priority === priority)?.localities;
        const scores = weights.map((_, i) => (previous && previous.weights.length === weights.length ? (previous.scores[i] ?? 0) : 0));
        level.localities = { sets, weights, scores, total: weights.reduce((a, b) => a + b, 0) };
      }
      return level;
    });
    for (const k of [...this.#lbs.keys()]) if (!used.has(k)) this.#lbs.delete(k);
    const panicThreshold = this.config.healthyPanicThresholdPercent ?? DEFAULT_HEALTHY_PANIC_THRESHOLD;
    const { load, panic } = computePriorityLoad(
      this.#levels.map((l) => ({ total: l.all.hosts.length, healthy: l.healthy.hosts.length })),
      panicThreshold,
    );
    this.#load = load;
    this.#panic = panic;
  }

  #chooseSet(level: Level, panic: boolean): HostSet | undefined {
    if (panic) return level.all;
    const loc = level.localities;
    if (!loc) return level.healthy;
    if (loc.total <= 0) return undefined;
    let best = -1;
    for (let i = 0; i < loc.weights.length; i++) {
      const w = loc.weights[i]!;
      if (w <= 0) continue;
      loc.scores[i] = loc.scores[i]! + w;
      if (best === -1 || loc.scores[i]! > loc.scores[best]!) best = i;
    }
    loc.scores[best] = loc.scores[best]! - loc.total;
    return loc.sets[best];
  }

  pick(ctx: PickContext): PickResult {
    if (this.#outlier?.maybeSweep(this.#hosts)) this.#dirty = true;
    if (this.#dirty) this.#rebuild();
    const retry = ctx.retry === true && ctx.connection !== true;
    const overflow = ctx.connection === true ? this.breaker.tryAcquireConnection() : this.breaker.tryAcquire(retry);
    if (overflow !== undefined) {
      return { ok: false, status: 503, flag: 'UO', message: `upstream overflow (${overflow}) for "${this.name}"` };
    }
    const point = ctx.hashKey !== undefined ? Number(BigInt.asUintN(64, BigInt(ctx.hashKey)) % 100n) : Math.floor(this.#runtime.random() * 100);
    const excluded = ctx.excludedPriorities && ctx.excludedPriorities.size > 0 && this.#levels.length > 1 ? this.#loadExcluding(ctx.excludedPriorities) : undefined;
    const load = excluded?.load ?? this.#load;
    const panic = excluded?.panic ?? this.#panic;
    const index = this.#levels.length === 1 ? 0 : choosePriority(load, point);
    const level = this.#levels[index];
    const set = level ? this.#chooseSet(level, panic[index] === true) : undefined;
    const i = set ? set.lb.pick(ctx as LoadBalancerContext) : -1;
    const host = i >= 0 ? set?.hosts[i] : undefined;
    if (!host) {
      this.breaker.release(retry);
      return this.#noHost;
    }
    host.active++;
    return new Lease(this, host, retry);
  }

  /** The priority load with `excluded` priorities' health at 0; undefined when nothing healthy is left outside them. */
  #loadExcluding(excluded: ReadonlySet<number>): { load: number[]; panic: boolean[] } | undefined {
    const levels = this.#levels.map((l) => ({ total: l.all.hosts.length, healthy: excluded.has(l.priority) ? 0 : l.healthy.hosts.length }));
    if (levels.every((l) => l.healthy === 0)) return undefined;
    return computePriorityLoad(levels, this.config.healthyPanicThresholdPercent ?? DEFAULT_HEALTHY_PANIC_THRESHOLD);
  }

  reportOutcome(endpoint: EndpointConfig, outcome: Outcome): void {
    if (!this.#outlier) return;
    const host = this.#byEndpoint.get(endpoint) ?? this.#byKey.get(hostKey(endpoint));
    if (host) this.reportHost(host, outcome);
  }

  /** Outlier accounting for a host of this cluster (hosts removed by a push are ignored). */
  reportHost(host: Host, outcome: Outcome): void {
    const od = this.#outlier;
    if (!od || this.#byKey.get(host.key) !== host) return;
    if (od.maybeSweep(this.#hosts)) this.#dirty = true;
    if (od.report(host, outcome, this.#hosts)) this.#dirty = true;
  }

  stats(): ClusterStats {
    if (this.#dirty) this.#rebuild();
    return {
      name: this.name,
      lbPolicy: this.config.lbPolicy,
      activeRequests: this.breaker.requests,
      activeRetries: this.breaker.retries,
      overflows: { ...this.breaker.overflows },
      priorityLoad: [...this.#load],
      panic: [...this.#panic],
      hosts: this.#hosts.map((h) => ({
        address: h.key,
        priority: h.endpoint.priority,
        weight: h.weight,
        active: h.active,
        healthy: h.endpoint.healthy,
        ejected: h.ejected,
        ejections: { consecutive5xx: h.ejectionsConsecutive5xx, consecutiveGatewayFailure: h.ejectionsConsecutiveGatewayFailure },
        consecutive5xx: h.consecutive5xx,
        consecutiveGatewayFailure: h.consecutiveGatewayFailure,
      })),
    };
  }
}
