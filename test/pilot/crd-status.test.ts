/** ServiceExport's Conflict condition as desiredStatus writes it, from the federation's verdict (a table; no network). */
import test from 'ava';
import type { ConflictVerdict } from '../../src/federation/index.ts';
import { ConfigError } from '../../src/pilot/config/config-error.ts';
import { CRD_KINDS, desiredStatus, type StatusCondition } from '../../src/pilot/config/crd/index.ts';

const SE = CRD_KINDS.find((k) => k.kind === 'ServiceExport');
const NOW = '2026-01-01T00:00:00Z';
const bad = new ConfigError({ code: 'CONFIG_INVALID', source: 'kubernetes:x', path: 'spec.ports', message: 'unknown field' });
const conflict: ConflictVerdict = { status: 'True', reason: 'PortConflict', message: 'conflicts with west: port 9080' };
const agree: ConflictVerdict = { status: 'False', reason: 'NoConflict', message: 'agrees with west' };

const CASES: [string, { errors: ConfigError[]; conflict?: ConflictVerdict }, string][] = [
  ['no verdict: Unknown', { errors: [] }, 'Unknown Pending'],
  ['a conflict: True', { errors: [], conflict }, 'True PortConflict conflicts with west: port 9080'],
  ['agreement: False', { errors: [], conflict: agree }, 'False NoConflict agrees with west'],
  ['invalid export: Unknown whatever the verdict', { errors: [bad], conflict }, 'Unknown Pending not compared while the ServiceExport is invalid'],
];

for (const [what, input, want] of CASES) {
  test(`ServiceExport Conflict condition: ${what}`, (t) => {
    if (!SE) throw new Error('no ServiceExport kind');
    const status = desiredStatus(SE, { generation: 3, errors: input.errors, keptLastGood: false, now: NOW, previous: undefined, conflict: input.conflict });
    const c = (status['conditions'] as StatusCondition[]).find((x) => x.type === 'Conflict');
    t.true(`${c?.status} ${c?.reason} ${c?.message}`.startsWith(want), `${c?.status} ${c?.reason} ${c?.message}`);
    t.is(c?.observedGeneration, 3);
  });
}

test('ServiceExport Conflict keeps its lastTransitionTime while its status stays, and moves it on a flip', (t) => {
  if (!SE) throw new Error('no ServiceExport kind');
  const first = desiredStatus(SE, { generation: 1, errors: [], keptLastGood: false, now: NOW, previous: undefined, conflict });
  const same = desiredStatus(SE, { generation: 1, errors: [], keptLastGood: false, now: '2026-01-02T00:00:00Z', previous: first, conflict });
  const flipped = desiredStatus(SE, { generation: 1, errors: [], keptLastGood: false, now: '2026-01-03T00:00:00Z', previous: same, conflict: agree });
  const at = (s: Record<string, unknown>) => (s['conditions'] as StatusCondition[]).find((x) => x.type === 'Conflict')?.lastTransitionTime;
  t.is(at(same), NOW);
  t.is(at(flipped), '2026-01-03T00:00:00Z');
});
