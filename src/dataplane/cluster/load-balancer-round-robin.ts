import type { LbHost, LoadBalancer, LoadBalancerContext } from './load-balancer-interface.ts';

/**
 * `ROUND_ROBIN`: smooth weighted round robin (nginx's algorithm: each pick adds every host's
 * weight to its running score, takes the highest and subtracts the total), so weights are
 * honoured without bursts. Hosts of weight 0 are never picked. Scores of hosts that remain across
 * `update` are kept, so a push does not restart the sequence.
 */
export class RoundRobinLoadBalancer implements LoadBalancer {
  readonly name = 'ROUND_ROBIN';
  #hosts: readonly LbHost[] = [];
  #scores = new Float64Array(0);
  #total = 0;

  update(hosts: readonly LbHost[]): void {
    const previous = new Map<string, number>();
    for (let i = 0; i < this.#hosts.length; i++) previous.set(this.#hosts[i]!.key, this.#scores[i] ?? 0);
    this.#hosts = hosts;
    this.#scores = new Float64Array(hosts.length);
    this.#total = 0;
    hosts.forEach((h, i) => {
      this.#scores[i] = previous.get(h.key) ?? 0;
      if (h.weight > 0) this.#total += h.weight;
    });
  }

  pick(_ctx: LoadBalancerContext): number {
    if (this.#total <= 0) return -1;
    const scores = this.#scores;
    let best = -1;
    for (let i = 0; i < this.#hosts.length; i++) {
      const w = this.#hosts[i]!.weight;
      if (w <= 0) continue;
      scores[i] = scores[i]! + w;
      if (best === -1 || scores[i]! > scores[best]!) best = i;
    }
    scores[best] = scores[best]! - this.#total;
    return best;
  }
}
