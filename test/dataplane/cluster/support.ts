import type { ClusterConfig, EndpointConfig } from '../../../src/xds/config-types.ts';

/** Deterministic uniform [0, 1) source (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A clock the test moves by hand. */
export class FakeClock {
  now = 0;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export function ep(host: string, extra: Partial<EndpointConfig> = {}): EndpointConfig {
  return { address: { host, port: 8080 }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 0, ...extra };
}

export function cluster(extra: Partial<ClusterConfig> = {}): ClusterConfig {
  return { name: 'c', type: 'STATIC', edsServiceName: 'c', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000, ...extra };
}

/** Counts picks per value of `key`. */
export function tally<T>(n: number, pick: () => T): Map<T, number> {
  const out = new Map<T, number>();
  for (let i = 0; i < n; i++) {
    const k = pick();
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}
