import { type LbHost, type LoadBalancer, type LoadBalancerConfig, type LoadBalancerContext, weightedRandomIndex } from './load-balancer-interface.ts';

/** Envoy's default `least_request_lb_config.choice_count`. */
export const DEFAULT_CHOICE_COUNT = 2;

/**
 * `LEAST_REQUEST`, as Envoy does it:
 * - all weights equal: power of `choiceCount` choices: draw that many hosts at random (with
 *   replacement) and take the one with the fewest active requests (first drawn on a tie);
 * - weights differ: each host's effective weight is `weight / (active + 1)^bias` with bias 1,
 *   and a host is drawn at random proportionally to it.
 * Hosts of weight 0 are never picked.
 */
export class LeastRequestLoadBalancer implements LoadBalancer {
  readonly name = 'LEAST_REQUEST';
  readonly #random: () => number;
  readonly #choices: number;
  #hosts: readonly LbHost[] = [];
  /** Indexes of hosts with weight > 0. */
  #eligible: number[] = [];
  #equalWeights = true;
  #effective: Float64Array = new Float64Array(0);

  constructor(config: LoadBalancerConfig) {
    this.#random = config.random;
    this.#choices = config.leastRequest?.choiceCount ?? DEFAULT_CHOICE_COUNT;
  }

  update(hosts: readonly LbHost[]): void {
    this.#hosts = hosts;
    this.#eligible = [];
    hosts.forEach((h, i) => {
      if (h.weight > 0) this.#eligible.push(i);
    });
    const first = this.#eligible[0] !== undefined ? hosts[this.#eligible[0]]!.weight : 0;
    this.#equalWeights = this.#eligible.every((i) => hosts[i]!.weight === first);
    this.#effective = new Float64Array(hosts.length);
  }

  pick(_ctx: LoadBalancerContext): number {
    const eligible = this.#eligible;
    if (eligible.length === 0) return -1;
    if (eligible.length === 1) return eligible[0]!;
    if (this.#equalWeights) {
      let best = -1;
      for (let c = 0; c < this.#choices; c++) {
        const i = eligible[Math.floor(this.#random() * eligible.length)]!;
        if (best === -1 || this.#hosts[i]!.active < this.#hosts[best]!.active) best = i;
      }
      return best;
    }
    let total = 0;
    for (let i = 0; i < this.#hosts.length; i++) {
      const h = this.#hosts[i]!;
      const w = h.weight > 0 ? h.weight / (h.active + 1) : 0;
      this.#effective[i] = w;
      total += w;
    }
    let point = this.#random() * total;
    for (const i of eligible) {
      const w = this.#effective[i]!;
      if (point < w) return i;
      point -= w;
    }
    return weightedRandomIndex(this.#hosts, this.#random);
  }
}
