import { xxHash64 } from './hash.ts';
import { type LbHost, type LoadBalancer, type LoadBalancerConfig, type LoadBalancerContext, weightedRandomIndex } from './load-balancer-interface.ts';

/** Envoy's defaults and limit for `ring_hash_lb_config`. */
export const RING_HASH_DEFAULTS = Object.freeze({ minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 });
export const RING_HASH_MAX_SIZE = 8 * 1024 * 1024;

/**
 * `RING_HASH` (Ketama), built as Envoy builds it: hosts with weight > 0 are normalized to their
 * share of the total; the ring gets `min(ceil(minShare × minimumRingSize) / minShare,
 * maximumRingSize)` entries; each host gets entries in proportion to its share, entry `i` at
 * xxHash64(`<host:port>_<i>`). A request goes to the first entry whose hash is ≥ its hash key
 * (wrapping around). Without a hash key the pick is random (weighted), as in Envoy.
 * Removing a host only moves the requests that hashed to its entries.
 */
export class RingHashLoadBalancer implements LoadBalancer {
  readonly name = 'RING_HASH';
  readonly #random: () => number;
  readonly #min: number;
  readonly #max: number;
  #hosts: readonly LbHost[] = [];
  #signature = '';
  #ring: BigUint64Array = new BigUint64Array(0);
  #owner: Int32Array = new Int32Array(0);

  constructor(config: LoadBalancerConfig) {
    this.#random = config.random;
    this.#min = config.ringHash?.minimumRingSize ?? RING_HASH_DEFAULTS.minimumRingSize;
    this.#max = config.ringHash?.maximumRingSize ?? RING_HASH_DEFAULTS.maximumRingSize;
  }

  /** Ring entries (tests and admin). */
  get size(): number {
    return this.#ring.length;
  }

  update(hosts: readonly LbHost[]): void {
    this.#hosts = hosts;
    const signature = hosts.map((h) => `${h.key}/${h.weight}`).join(',');
    if (signature === this.#signature) return;
    this.#signature = signature;
    let total = 0;
    for (const h of hosts) if (h.weight > 0) total += h.weight;
    if (total === 0) {
      this.#ring = new BigUint64Array(0);
      this.#owner = new Int32Array(0);
      return;
    }
    let minShare = 1;
    for (const h of hosts) if (h.weight > 0) minShare = Math.min(minShare, h.weight / total);
    const scale = Math.min(Math.ceil(minShare * this.#min) / minShare, this.#max);
    const entries: { hash: bigint; owner: number }[] = [];
    let current = 0;
    let target = 0;
    hosts.forEach((h, index) => {
      if (h.weight <= 0) return;
      target += scale * (h.weight / total);
      let i = 0;
      while (current < target) {
        entries.push({ hash: xxHash64(`${h.key}_${i}`), owner: index });
        i++;
        current++;
      }
    });
    entries.sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : a.owner - b.owner));
    this.#ring = BigUint64Array.from(entries.map((e) => e.hash));
    this.#owner = Int32Array.from(entries.map((e) => e.owner));
  }

  pick(ctx: LoadBalancerContext): number {
    if (this.#ring.length === 0) return -1;
    if (ctx.hashKey === undefined) return weightedRandomIndex(this.#hosts, this.#random);
    const h = BigInt.asUintN(64, BigInt(ctx.hashKey));
    const ring = this.#ring;
    let lo = 0;
    let hi = ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ring[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.#owner[lo === ring.length ? 0 : lo]!;
  }
}
