import test from 'ava';
import { choosePriority, computePriorityLoad, type LevelHealth, localityEffectiveWeight } from '../../../src/dataplane/cluster/index.ts';

/** Envoy's priority spillover (overprovisioning 1.4) and panic arithmetic, as a table. */
const rows: { title: string; levels: LevelHealth[]; panicThreshold?: number; load: number[]; panic: boolean[] }[] = [
  { title: 'one healthy level takes everything', levels: [{ total: 4, healthy: 4 }], load: [100], panic: [false] },
  {
    title: 'P0 at 75% healthy still takes 100% (75 × 1.4 ≥ 100)',
    levels: [{ total: 4, healthy: 3 }, { total: 2, healthy: 2 }],
    load: [100, 0],
    panic: [false, false],
  },
  {
    title: 'P0 at 50% healthy takes 70%, the rest spills to P1',
    levels: [{ total: 4, healthy: 2 }, { total: 2, healthy: 2 }],
    load: [70, 30],
    panic: [false, false],
  },
  {
    title: 'P0 fully down: P1 takes everything (total availability 100: no level panics)',
    levels: [{ total: 2, healthy: 0 }, { total: 2, healthy: 2 }],
    load: [0, 100],
    panic: [false, false],
  },
  {
    title: 'summed health below 100 is normalized (P0 28, P1 28 → 50/50)',
    levels: [{ total: 5, healthy: 1 }, { total: 5, healthy: 1 }],
    panicThreshold: 0,
    load: [50, 50],
    panic: [false, false],
  },
  {
    title: 'every level in panic: load by host counts',
    levels: [{ total: 3, healthy: 0 }, { total: 1, healthy: 0 }],
    load: [75, 25],
    panic: [true, true],
  },
  {
    title: 'panic threshold 0 and nothing healthy: P0 takes all, no panic (UH)',
    levels: [{ total: 3, healthy: 0 }, { total: 1, healthy: 0 }],
    panicThreshold: 0,
    load: [100, 0],
    panic: [false, false],
  },
  {
    title: 'one of three healthy (33%) is below the default 50% threshold: panic',
    levels: [{ total: 3, healthy: 1 }],
    load: [100],
    panic: [true],
  },
  {
    title: 'one of three healthy with minHealthPercent 30: no panic',
    levels: [{ total: 3, healthy: 1 }],
    panicThreshold: 30,
    load: [100],
    panic: [false],
  },
];

for (const row of rows) {
  test(`priority load: ${row.title}`, (t) => {
    t.deepEqual(computePriorityLoad(row.levels, row.panicThreshold), { load: row.load, panic: row.panic });
  });
}

test('choosePriority walks the cumulative load', (t) => {
  t.deepEqual([0, 69, 70, 99].map((p) => choosePriority([70, 30], p)), [0, 0, 1, 1]);
  t.is(choosePriority([0, 0], 5), -1);
});

test('locality effective weight scales with availability (×1.4, capped)', (t) => {
  t.is(localityEffectiveWeight(10, { total: 4, healthy: 4 }), 10);
  t.is(localityEffectiveWeight(10, { total: 4, healthy: 2 }), 7);
  t.is(localityEffectiveWeight(10, { total: 4, healthy: 0 }), 0);
  t.is(localityEffectiveWeight(0, { total: 4, healthy: 4 }), 0);
});
