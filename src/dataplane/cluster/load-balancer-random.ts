import { type LbHost, type LoadBalancer, type LoadBalancerConfig, type LoadBalancerContext, weightedRandomIndex } from './load-balancer-interface.ts';

/** `RANDOM`: a random host, proportionally to weight (uniform when weights are equal); weight 0 never. */
export class RandomLoadBalancer implements LoadBalancer {
  readonly name = 'RANDOM';
  readonly #random: () => number;
  #hosts: readonly LbHost[] = [];

  constructor(config: LoadBalancerConfig) {
    this.#random = config.random;
  }

  update(hosts: readonly LbHost[]): void {
    this.#hosts = hosts;
  }

  pick(_ctx: LoadBalancerContext): number {
    return weightedRandomIndex(this.#hosts, this.#random);
  }
}
