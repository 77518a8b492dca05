import test from 'ava';
import { Registry } from 'prom-client';
import type { MeshEntry } from '../../src/mixer/access-log-entry.ts';
import { LabelLimiter, labelLimits, OVERFLOW } from '../../src/mixer/label-limiter.ts';
import { MeshMetrics } from '../../src/mixer/mesh-metrics.ts';

type L = 'reporter' | 'destination_service';

const ROWS: { name: string; max: number; len: number; inputs: string[]; want: { service: string; folded: boolean }[] }[] = [
  {
    name: 'sets under the cap pass unchanged, a repeat of a held set too',
    max: 2,
    len: 64,
    inputs: ['a', 'b', 'a'],
    want: [
      { service: 'a', folded: false },
      { service: 'b', folded: false },
      { service: 'a', folded: false },
    ],
  },
  {
    name: 'a new set beyond the cap folds into overflow, keeping reporter',
    max: 2,
    len: 64,
    inputs: ['a', 'b', 'c', 'd'],
    want: [
      { service: 'a', folded: false },
      { service: 'b', folded: false },
      { service: OVERFLOW, folded: true },
      { service: OVERFLOW, folded: true },
    ],
  },
  {
    name: 'values longer than the bound are cut, so a cut repeat is one series',
    max: 1,
    len: 6,
    inputs: ['abcdefgh', 'abcdefxyz'],
    want: [
      { service: 'abcdef', folded: false },
      { service: 'abcdef', folded: false },
    ],
  },
];

for (const row of ROWS) {
  test(`LabelLimiter: ${row.name}`, (t) => {
    const limiter = new LabelLimiter<L>(labelLimits({ maxSeriesPerMetric: row.max, maxValueLength: row.len }), ['reporter']);
    const got = row.inputs.map((s) => {
      const r = limiter.bound({ reporter: 'source', destination_service: s });
      t.is(r.labels.reporter, 'source');
      return { service: r.labels.destination_service, folded: r.folded };
    });
    t.deepEqual(got, row.want);
  });
}

test('labelLimits rejects a non-positive bound naming the field', (t) => {
  t.throws(() => labelLimits({ maxSeriesPerMetric: 0 }), { message: 'invalid labelLimits.maxSeriesPerMetric: must be a positive integer' });
  t.throws(() => labelLimits({ maxValueLength: 1.5 }), { message: 'invalid labelLimits.maxValueLength: must be a positive integer' });
});

test('MeshMetrics folds label sets beyond the cap into overflow and counts them', async (t) => {
  const registry = new Registry();
  const metrics = new MeshMetrics(registry, { maxSeriesPerMetric: 2, maxValueLength: 64 });
  const entry = (service: string): MeshEntry =>
    ({
      reporter: 'source',
      sourceWorkload: 'w',
      sourceNamespace: 'default',
      sourceCluster: 'east',
      destinationService: service,
      destinationWorkload: 'd',
      destinationCluster: 'east',
      connectionSecurityPolicy: 'mutual_tls',
      responseCode: 200,
    }) as MeshEntry;
  for (const s of ['a.default.svc', 'b.default.svc', 'c.default.svc', 'd.default.svc', 'a.default.svc']) metrics.record(entry(s));
  const requests = await registry.getSingleMetric('meshfed_mesh_requests_total')?.get();
  const byService = Object.fromEntries((requests?.values ?? []).map((v) => [String(v.labels['destination_service']), v.value]));
  t.deepEqual(byService, { 'a.default.svc': 2, 'b.default.svc': 1, overflow: 2 });
  const overflow = await registry.getSingleMetric('meshfed_mixer_label_overflow_total')?.get();
  t.is(overflow?.values.find((v) => v.labels['metric'] === 'meshfed_mesh_requests_total')?.value, 2);
});
