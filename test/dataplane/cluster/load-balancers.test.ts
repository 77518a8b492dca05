import test from 'ava';
import { createLoadBalancer, type LbHost, xxHash64 } from '../../../src/dataplane/cluster/index.ts';
import { seeded, tally } from './support.ts';

/** Every built-in load balancer, driven directly through the registry (no cluster around it). */

interface MutableHost extends LbHost {
  active: number;
}
const hosts = (weights: number[], active: number[] = []): MutableHost[] =>
  weights.map((weight, i) => ({ key: `10.0.0.${i + 1}:80`, weight, active: active[i] ?? 0 }));

test('xxHash64 matches the reference vectors', (t) => {
  t.is(xxHash64(''), 0xef46db3751d8e999n);
  t.is(xxHash64('abc'), 0x44bc2cf5ad770999n);
  t.is(xxHash64('Nobody inspects the spammish repetition'), 0xfbcea83c8a378bf1n);
});

const distribution: {
  title: string;
  name: string;
  weights: number[];
  active?: number[];
  n: number;
  expected: number[];
  tolerance: number;
  hashed?: boolean;
}[] = [
  { title: 'round robin honours weights exactly', name: 'ROUND_ROBIN', weights: [5, 1, 1], n: 700, expected: [500, 100, 100], tolerance: 0 },
  { title: 'round robin never picks weight 0', name: 'ROUND_ROBIN', weights: [1, 0, 1], n: 100, expected: [50, 0, 50], tolerance: 0 },
  { title: 'random is proportional to weight', name: 'RANDOM', weights: [3, 1], n: 4000, expected: [3000, 1000], tolerance: 120 },
  { title: 'random never picks weight 0', name: 'RANDOM', weights: [0, 1], n: 500, expected: [0, 500], tolerance: 0 },
  {
    title: 'least request (equal weights, P2C) avoids the busy host',
    name: 'LEAST_REQUEST',
    weights: [1, 1, 1],
    active: [50, 0, 0],
    n: 3000,
    // P2C picks host 0 only when both draws are host 0: 1/9.
    expected: [333, 1333, 1333],
    tolerance: 120,
  },
  {
    title: 'least request (weighted) uses weight / (active + 1)',
    name: 'LEAST_REQUEST',
    weights: [2, 1],
    active: [3, 0],
    n: 3000,
    // effective weights 0.5 and 1
    expected: [1000, 2000],
    tolerance: 120,
  },
  { title: 'ring hash places hosts in proportion to weight', name: 'RING_HASH', weights: [1, 1, 2], n: 8000, expected: [2000, 2000, 4000], tolerance: 500, hashed: true },
  { title: 'maglev shares its table in proportion to weight', name: 'MAGLEV', weights: [1, 1, 2], n: 8000, expected: [2000, 2000, 4000], tolerance: 300, hashed: true },
];

for (const row of distribution) {
  test(`distribution: ${row.title}`, (t) => {
    const random = seeded(42);
    const lb = createLoadBalancer(row.name, { random });
    const hs = hosts(row.weights, row.active);
    lb.update(hs);
    const keys = seeded(7);
    const counts = tally(row.n, () => lb.pick(row.hashed ? { hashKey: BigInt(Math.floor(keys() * 2 ** 52)) * 4099n } : {}));
    const got = row.weights.map((_, i) => counts.get(i) ?? 0);
    t.log(`${row.name} counts ${JSON.stringify(got)}, expected ${JSON.stringify(row.expected)} ± ${row.tolerance}`);
    row.expected.forEach((e, i) => {
      t.true(Math.abs((got[i] ?? 0) - e) <= row.tolerance, `host ${i}: ${got[i]} vs ${e}`);
    });
  });
}

test('round robin keeps its sequence for hosts that remain across an update', (t) => {
  const lb = createLoadBalancer('ROUND_ROBIN', { random: seeded(1) });
  const hs = hosts([1, 1, 1]);
  lb.update(hs);
  t.deepEqual([lb.pick({}), lb.pick({})], [0, 1]);
  lb.update([...hs]);
  t.is(lb.pick({}), 2);
});

test('no eligible host: every policy answers -1', (t) => {
  for (const name of ['ROUND_ROBIN', 'RANDOM', 'LEAST_REQUEST', 'RING_HASH', 'MAGLEV']) {
    const lb = createLoadBalancer(name, { random: seeded(1) });
    lb.update([]);
    t.is(lb.pick({ hashKey: 5n }), -1, name);
    lb.update(hosts([0, 0]));
    t.is(lb.pick({ hashKey: 5n }), -1, name);
  }
});

for (const name of ['RING_HASH', 'MAGLEV']) {
  test(`${name}: the same key always reaches the same host, and removing a host moves only its keys`, (t) => {
    const lb = createLoadBalancer(name, { random: seeded(3) });
    const five = hosts([1, 1, 1, 1, 1]);
    lb.update(five);
    const keys = Array.from({ length: 2000 }, (_, i) => xxHash64(`user-${i}`));
    const before = keys.map((k) => five[lb.pick({ hashKey: k })]!.key);
    t.deepEqual(keys.map((k) => five[lb.pick({ hashKey: k })]!.key), before, 'sticky');
    const four = five.filter((_, i) => i !== 2);
    lb.update(four);
    const after = keys.map((k) => four[lb.pick({ hashKey: k })]!.key);
    let moved = 0;
    let movedElsewhere = 0;
    before.forEach((b, i) => {
      if (b !== after[i]) {
        moved++;
        if (b !== five[2]!.key) movedElsewhere++;
      }
    });
    t.log(`${name}: ${moved} of ${keys.length} keys moved after removing one of 5 hosts; ${movedElsewhere} of them were not on it`);
    // Every key of the removed host (~1/5) moves. As in Envoy, the ring is re-sized for 4 hosts
    // (256 entries each instead of 205), so ~10% of other keys move too; Maglev moves almost none.
    t.true(moved >= 300 && moved <= 700, `moved ${moved}`);
    t.true(movedElsewhere <= keys.length * (name === 'RING_HASH' ? 0.12 : 0.02), `moved elsewhere ${movedElsewhere}`);
  });

  test(`${name}: without a hash key the pick is random`, (t) => {
    const lb = createLoadBalancer(name, { random: seeded(9) });
    lb.update(hosts([1, 1]));
    const counts = tally(1000, () => lb.pick({}));
    t.log(`counts ${JSON.stringify([...counts])}`);
    t.true((counts.get(0) ?? 0) > 400 && (counts.get(1) ?? 0) > 400);
  });
}

test('ring hash sizes its ring by minimum_ring_size and caps at maximum_ring_size', (t) => {
  const small = createLoadBalancer('RING_HASH', { random: seeded(1), ringHash: { minimumRingSize: 64, maximumRingSize: 1024 } });
  small.update(hosts([1, 1, 1, 1]));
  t.is((small as unknown as { size: number }).size, 64);
  const capped = createLoadBalancer('RING_HASH', { random: seeded(1), ringHash: { minimumRingSize: 1024, maximumRingSize: 100 } });
  capped.update(hosts([1, 1, 1, 1]));
  t.is((capped as unknown as { size: number }).size, 100);
});

test('the registry refuses unknown and duplicate names with typed errors', async (t) => {
  const { registerLoadBalancer } = await import('../../../src/dataplane/cluster/index.ts');
  t.throws(() => createLoadBalancer('NOPE', { random: Math.random }), { message: /NOPE/ });
  const e = t.throws(() => registerLoadBalancer('ROUND_ROBIN', () => createLoadBalancer('RANDOM', { random: Math.random })));
  t.is((e as unknown as { code: string }).code, 'CLUSTER_LB_DUPLICATE');
});
