import { xxHash64 } from './hash.ts';
import { type LbHost, type LoadBalancer, type LoadBalancerConfig, type LoadBalancerContext, weightedRandomIndex } from './load-balancer-interface.ts';

/** Envoy's default `maglev_lb_config.table_size` (a prime). */
export const MAGLEV_DEFAULT_TABLE_SIZE = 65537;
/** Envoy's upper bound for `table_size` (exclusive). */
export const MAGLEV_MAX_TABLE_SIZE = 5000011;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * `MAGLEV`, Envoy's weighted variant: each host with weight > 0 has a permutation of the table
 * (offset = xxHash64(key) mod M, skip = xxHash64(key, seed 1) mod (M − 1) + 1); hosts take turns
 * filling their next free slot, a host of weight w taking a turn on iterations where
 * `iteration × w ≥ its target`, so slots are shared in proportion to weight. A request goes to
 * slot `hashKey mod M`; without a hash key the pick is random (weighted), as in Envoy.
 */
export class MaglevLoadBalancer implements LoadBalancer {
  readonly name = 'MAGLEV';
  readonly #random: () => number;
  readonly #size: number;
  readonly #sizeBig: bigint;
  #hosts: readonly LbHost[] = [];
  #signature = '';
  #table: Int32Array = new Int32Array(0);

  constructor(config: LoadBalancerConfig) {
    this.#random = config.random;
    this.#size = config.maglev?.tableSize ?? MAGLEV_DEFAULT_TABLE_SIZE;
    this.#sizeBig = BigInt(this.#size);
  }

  update(hosts: readonly LbHost[]): void {
    this.#hosts = hosts;
    const signature = hosts.map((h) => `${h.key}/${h.weight}`).join(',');
    if (signature === this.#signature) return;
    this.#signature = signature;
    const m = this.#size;
    const mBig = this.#sizeBig;
    let maxWeight = 0;
    let total = 0;
    for (const h of hosts) {
      if (h.weight > 0) total += h.weight;
      maxWeight = Math.max(maxWeight, h.weight);
    }
    if (total === 0) {
      this.#table = new Int32Array(0);
      return;
    }
    const entries = hosts.flatMap((h, index) =>
      h.weight > 0
        ? [
            {
              index,
              weight: h.weight / total,
              target: 0,
              offset: Number(xxHash64(h.key) % mBig),
              skip: Number(xxHash64(h.key, 1n) % (mBig - 1n)) + 1,
              next: 0,
            },
          ]
        : [],
    );
    const maxShare = maxWeight / total;
    const table = new Int32Array(m).fill(-1);
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (const e of entries) {
        if (filled >= m) break;
        if (iteration * e.weight < e.target) continue;
        e.target += maxShare;
        let c = (e.offset + e.skip * e.next) % m;
        while (table[c] !== -1) {
          e.next++;
          c = (e.offset + e.skip * e.next) % m;
        }
        table[c] = e.index;
        e.next++;
        filled++;
      }
    }
    this.#table = table;
  }

  pick(ctx: LoadBalancerContext): number {
    if (this.#table.length === 0) return -1;
    if (ctx.hashKey === undefined) return weightedRandomIndex(this.#hosts, this.#random);
    const slot = Number(BigInt.asUintN(64, BigInt(ctx.hashKey)) % this.#sizeBig);
    return this.#table[slot]!;
  }
}
