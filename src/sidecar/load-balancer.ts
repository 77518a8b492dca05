import type { ClusterConfig, EndpointConfig, ProxyConfig } from '../xds/config-types.ts';

/**
 * Endpoint selection for a cluster: healthy endpoints of the best (lowest) priority that has any,
 * then smooth weighted round robin (nginx's algorithm: each pick adds every endpoint's weight to
 * its running score, takes the highest and subtracts the total), so that weights are honoured
 * without bursts. State is per cluster and is reset when the endpoint set changes.
 *
 * Endpoint lists are part of an immutable config snapshot, so what is derived from one list (its
 * healthy subset, its signature) is computed once per list and kept while the list lives.
 */

const NO_ENDPOINTS: readonly EndpointConfig[] = Object.freeze([]);
const healthyOf = new WeakMap<readonly EndpointConfig[], readonly EndpointConfig[]>();
const signatureOf = new WeakMap<readonly EndpointConfig[], string>();

function bestPriorityHealthy(all: readonly EndpointConfig[]): readonly EndpointConfig[] {
  const healthy = all.filter((e) => e.healthy && e.weight > 0);
  if (healthy.length === 0) return NO_ENDPOINTS;
  const best = Math.min(...healthy.map((e) => e.priority));
  return healthy.filter((e) => e.priority === best);
}

/**
 * Healthy endpoints of a cluster at its best priority (STATIC: inline; EDS: from `config.endpoints`).
 * The list is shared between calls on the same snapshot: callers must not modify it.
 */
export function healthyEndpoints(cluster: ClusterConfig, config: ProxyConfig): readonly EndpointConfig[] {
  const all =
    cluster.type === 'STATIC'
      ? cluster.staticEndpoints
      : (config.endpoints.get(cluster.edsServiceName)?.endpoints ?? config.endpoints.get(cluster.name)?.endpoints);
  if (!all) return NO_ENDPOINTS;
  let healthy = healthyOf.get(all);
  if (!healthy) {
    healthy = bestPriorityHealthy(all);
    healthyOf.set(all, healthy);
  }
  return healthy;
}

interface RoundRobinState {
  signature: string;
  scores: number[];
}

function signature(endpoints: readonly EndpointConfig[]): string {
  let sig = signatureOf.get(endpoints);
  if (sig === undefined) {
    sig = endpoints.map((e) => `${e.address.host}:${e.address.port}/${e.weight}`).join(',');
    signatureOf.set(endpoints, sig);
  }
  return sig;
}

/** Weighted round robin per cluster name. One instance per data plane. */
export class EndpointPicker {
  readonly #state = new Map<string, RoundRobinState>();

  /** Picks the next endpoint of `clusterName` among `endpoints`; undefined when the list is empty. */
  pick(clusterName: string, endpoints: readonly EndpointConfig[]): EndpointConfig | undefined {
    if (endpoints.length === 0) return undefined;
    const state = this.#reset(clusterName, endpoints);
    let total = 0;
    let bestIndex = 0;
    for (let i = 0; i < endpoints.length; i++) {
      const w = endpoints[i]!.weight;
      total += w;
      state.scores[i] = (state.scores[i] ?? 0) + w;
      if ((state.scores[i] ?? 0) > (state.scores[bestIndex] ?? 0)) bestIndex = i;
    }
    state.scores[bestIndex] = (state.scores[bestIndex] ?? 0) - total;
    return endpoints[bestIndex];
  }

  /** The cluster's state, reset when its endpoint set changed. */
  #reset(clusterName: string, endpoints: readonly EndpointConfig[]): RoundRobinState {
    const sig = signature(endpoints);
    let state = this.#state.get(clusterName);
    if (!state || state.signature !== sig) {
      state = { signature: sig, scores: endpoints.map(() => 0) };
      this.#state.set(clusterName, state);
    }
    return state;
  }

  /** Forgets clusters that are no longer configured. */
  retain(clusterNames: ReadonlySet<string>): void {
    for (const name of this.#state.keys()) if (!clusterNames.has(name)) this.#state.delete(name);
  }
}

/** The upstream a request goes to, or why there is none (Envoy's NC and UH flags). */
export type UpstreamPick =
  | { ok: true; cluster: ClusterConfig; endpoint: EndpointConfig }
  | { ok: false; status: 503; flag: 'NC' | 'UH'; message: string };

/** Looks up the routed cluster in `config` and picks one of its healthy endpoints. */
export function pickUpstream(picker: EndpointPicker, config: ProxyConfig, clusterName: string): UpstreamPick {
  const cluster = config.clusters.get(clusterName);
  if (!cluster) return { ok: false, status: 503, flag: 'NC', message: `cluster "${clusterName}" not found` };
  const endpoint = picker.pick(cluster.name, healthyEndpoints(cluster, config));
  if (!endpoint) return { ok: false, status: 503, flag: 'UH', message: `no healthy upstream for "${cluster.name}"` };
  return { ok: true, cluster, endpoint };
}
