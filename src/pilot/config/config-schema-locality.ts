import { z } from 'zod';

/**
 * Zod schema of DestinationRule `trafficPolicy.loadBalancer.localityLbSetting`, with the rules
 * Istio's validation applies (pilot/pkg/config/validation `validateLocalityLbSetting`):
 * - `distribute` and `failover` are exclusive;
 * - every `distribute[].to` weight is 1..100 and the weights of one `from` sum to 100;
 * - a locality is `region[/zone[/subzone]]` with no empty part, and at most one `*`, at its end
 *   (`*`, `us-east/*`, `us-east/zone1/*`); the `from`s of `distribute`, and the keys of one `to`,
 *   must not overlap;
 * - a `failover` names regions only (no `/`, no `*`), `from` differing from `to`;
 * - `failover` cannot be combined with region/zone/subzone labels in `failoverPriority`.
 * `failoverPriority` entries are label keys, optionally `key=value` (the value then overrides the
 * proxy's own). `failover` together with `failoverPriority` (other labels than the topology ones)
 * is honoured as Istio does: label rank first, locality failover within it.
 */

const TOPOLOGY_LOCALITY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Why `locality` is not a valid Istio locality string, or undefined. */
function localityProblem(locality: string): string | undefined {
  const stars = locality.split('*').length - 1;
  if (stars > 1 || (stars === 1 && !locality.endsWith('*'))) return `locality ${locality}: wildcard '*' may appear once, at the end`;
  const parts = locality.split('/');
  if (parts.length > 3 || parts.some((p) => p === '')) return `locality ${locality} must not contain empty region/zone/subzone info`;
  if (stars === 1 && parts.at(-1) !== '*') return `locality ${locality}: wildcard '*' must be a whole region, zone or subzone`;
  return undefined;
}

/** True when the localities `a` and `b` (both valid) can match one endpoint. */
function overlaps(a: string, b: string): boolean {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === '*' || y === '*') return true;
    if (x === undefined || y === undefined) return true;
    if (x !== y) return false;
  }
  return true;
}

function checkLocalities(list: readonly string[], ctx: z.RefinementCtx, path: (i: number) => PropertyKey[]): void {
  list.forEach((l, i) => {
    const problem = localityProblem(l);
    if (problem) {
      ctx.addIssue({ code: 'custom', path: path(i), message: problem });
      return;
    }
    const earlier = list.slice(0, i).find((o) => localityProblem(o) === undefined && overlaps(o, l));
    if (earlier !== undefined) ctx.addIssue({ code: 'custom', path: path(i), message: `locality ${l} overlaps with ${earlier}` });
  });
}

const WEIGHT_MSG = 'locality weight must be an integer 1..100';
const weight = z.int(WEIGHT_MSG).min(1, WEIGHT_MSG).max(100, WEIGHT_MSG);

export const localityLbSettingSchema = z
  .strictObject({
    enabled: z.boolean().optional(),
    distribute: z.array(z.strictObject({ from: z.string().min(1, 'must not be empty'), to: z.record(z.string().min(1, 'must not be empty'), weight) })).optional(),
    failover: z.array(z.strictObject({ from: z.string().min(1, 'must not be empty'), to: z.string().min(1, 'must not be empty') })).optional(),
    failoverPriority: z.array(z.string().regex(/^[^=]+(=[^=]*)?$/, 'must be a label key or key=value')).optional(),
  })
  .superRefine((s, ctx) => {
    const distribute = s.distribute ?? [];
    const failover = s.failover ?? [];
    const priority = s.failoverPriority ?? [];
    if (distribute.length > 0 && failover.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['failover'], message: "can not simultaneously specify 'distribute' and 'failover'" });
    }
    checkLocalities(
      distribute.map((d) => d.from),
      ctx,
      (i) => ['distribute', i, 'from'],
    );
    distribute.forEach((d, i) => {
      const keys = Object.keys(d.to);
      if (keys.length === 0) ctx.addIssue({ code: 'custom', path: ['distribute', i, 'to'], message: 'must name at least one locality' });
      const total = Object.values(d.to).reduce((a, b) => a + b, 0);
      if (keys.length > 0 && total !== 100) ctx.addIssue({ code: 'custom', path: ['distribute', i, 'to'], message: `total locality weight ${total} != 100` });
      checkLocalities(keys, ctx, (j) => ['distribute', i, 'to', keys[j] ?? '']);
    });
    failover.forEach((f, i) => {
      const at = ['failover', i];
      if (f.from === f.to) ctx.addIssue({ code: 'custom', path: at, message: 'locality lb failover settings must specify different regions' });
      if (f.from.includes('/') || f.to.includes('/')) ctx.addIssue({ code: 'custom', path: at, message: 'locality failover only specify region' });
      if (f.from.includes('*') || f.to.includes('*')) ctx.addIssue({ code: 'custom', path: at, message: "locality failover region should not contain '*' wildcard" });
    });
    const seen = new Set<string>();
    priority.forEach((entry, i) => {
      const key = entry.split('=')[0] ?? '';
      if (!LABEL_KEY.test(key) || key.length > 317) ctx.addIssue({ code: 'custom', path: ['failoverPriority', i], message: `${key} is not a label key` });
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['failoverPriority', i], message: `duplicate label ${key}` });
      seen.add(key);
      if (failover.length > 0 && TOPOLOGY_LOCALITY_LABELS.has(key)) {
        ctx.addIssue({ code: 'custom', path: ['failoverPriority', i], message: `can not simultaneously set 'failover' and topology label '${key}' in 'failoverPriority'` });
      }
    });
  });
