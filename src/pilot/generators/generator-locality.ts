import type { ProxyNode } from '../../xds/node.ts';
import type { LocalityLbSetting, TrafficPolicySections } from '../config/config-types.ts';
import { type Locality, localityMatches, localityOf } from '../model/locality.ts';

/**
 * DestinationRule `localityLbSetting` → per-proxy EDS priorities and locality weights, as Istio's
 * `ApplyLocalityLoadBalancer` computes them. Pure functions; generator-endpoints.ts calls
 * `localityPlan` once per (proxy, cluster) and applies the plan while it groups endpoints.
 *
 * - `distribute` (applied with or without outlier detection): the first rule whose `from` matches
 *   the proxy's locality re-weights the localities its `to` names (a wildcard spreading a weight
 *   over the localities it matches, in proportion to their own weights, rounded up); localities it
 *   does not name are left out.
 * - Failover (only when the cluster has outlierDetection, as Istio: without it no endpoint is ever
 *   seen unhealthy, so Istio leaves priorities alone):
 *   - `failoverPriority` set: per endpoint, 0 when it matches the proxy on every listed label, 1
 *     when on all but the last, ..., N when the first already differs; with `failover` as well,
 *     the locality order below (with its region pairs) then orders endpoints of one label rank;
 *   - otherwise by locality: 0 same region/zone/subzone, 1 same region/zone, 2 same region, 3
 *     another region (4 when `failover` names another `to` for the proxy's region).
 *   Priorities are then renumbered 0..n without gaps.
 * The proxy's labels are its node's LABELS plus `topology.istio.io/cluster` = its cluster; its
 * locality comes from them as an endpoint's does (model/locality.ts).
 */

const CLUSTER_LABEL = 'topology.istio.io/cluster';

export type LocalityPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'distribute'; readonly to: LocalityLbSetting['distribute'][number]['to'] }
  | { readonly kind: 'failover'; readonly proxy: Locality; readonly failover: LocalityLbSetting['failover'] }
  | {
      readonly kind: 'failover-priority';
      readonly labels: readonly { label: string; value: string | undefined }[];
      /** `failover` given too: its locality order applies inside each label rank. */
      readonly locality?: { readonly proxy: Locality; readonly failover: LocalityLbSetting['failover'] };
    };

const NONE: LocalityPlan = { kind: 'none' };

/** The labels failoverPriority compares: the node's labels and its cluster. */
export function proxyTopologyLabels(proxy: ProxyNode): Readonly<Record<string, string>> {
  return { ...proxy.labels, [CLUSTER_LABEL]: proxy.cluster };
}

/** What the merged policy of one cluster asks for this proxy. */
export function localityPlan(proxy: ProxyNode, policy: TrafficPolicySections): LocalityPlan {
  const s = policy.loadBalancer?.localityLbSetting;
  if (!s || !s.enabled) return NONE;
  const labels = proxyTopologyLabels(proxy);
  const own = localityOf(labels, proxy.cluster);
  if (s.distribute.length > 0) {
    const rule = s.distribute.find((d) => localityMatches(own, d.from));
    return rule ? { kind: 'distribute', to: rule.to } : NONE;
  }
  if (!policy.outlierDetection) return NONE;
  if (s.failoverPriority.length > 0) {
    return {
      kind: 'failover-priority',
      labels: s.failoverPriority.map((p) => ({ label: p.label, value: p.value ?? labels[p.label] })),
      ...(s.failover.length > 0 ? { locality: { proxy: own, failover: s.failover } } : {}),
    };
  }
  return { kind: 'failover', proxy: own, failover: s.failover };
}

/** Locality failover ranks 0..4 (same subzone .. a region `failover` does not name). */
const LOCALITY_RANKS = 5;

function localityRank(proxy: Locality, failover: LocalityLbSetting['failover'], locality: Locality): number {
  if (locality.region !== proxy.region) {
    const rule = failover.find((f) => f.from === proxy.region);
    return rule && rule.to !== locality.region ? 4 : 3;
  }
  if (locality.zone !== proxy.zone) return 2;
  return locality.subZone === proxy.subZone ? 0 : 1;
}

/**
 * An endpoint's priority before renumbering, from its labels (failoverPriority), its locality
 * (failover), or both: with `failoverPriority` and `failover` together, as Istio, the label rank
 * orders first and the locality rank (with the `failover` region pairs) orders within it, i.e.
 * `labelRank × 5 + localityRank`.
 */
export function rawPriority(plan: LocalityPlan, labels: Readonly<Record<string, string>>, locality: Locality): number {
  if (plan.kind === 'failover-priority') {
    const n = plan.labels.length;
    let rank = 0;
    for (let j = 0; j < n; j++) {
      const want = plan.labels[j];
      if (want?.value === undefined || labels[want.label] !== want.value) {
        rank = n - j;
        break;
      }
    }
    return plan.locality ? rank * LOCALITY_RANKS + localityRank(plan.locality.proxy, plan.locality.failover, locality) : rank;
  }
  if (plan.kind === 'failover') return localityRank(plan.proxy, plan.failover, locality);
  return 0;
}

/** Renumbers priorities to 0..n-1 in order, as Envoy requires (no gaps). */
export function compactPriorities(priorities: readonly number[]): Map<number, number> {
  const sorted = [...new Set(priorities)].sort((a, b) => a - b);
  return new Map(sorted.map((p, i) => [p, i]));
}

/**
 * Locality weights after `distribute` (plan `distribute` only; others return the input): each
 * entry is a locality's current weight; undefined drops the locality.
 */
export function distributeWeights(plan: LocalityPlan, groups: readonly { locality: Locality; weight: number }[]): (number | undefined)[] {
  if (plan.kind !== 'distribute') return groups.map((g) => g.weight);
  const out: (number | undefined)[] = groups.map(() => undefined);
  const unmatched = new Set(groups.map((_, i) => i));
  for (const to of plan.to) {
    const hit = [...unmatched].filter((i) => localityMatches(groups[i]?.locality ?? { region: '', zone: '', subZone: '' }, to.locality));
    const total = hit.reduce((a, i) => a + (groups[i]?.weight ?? 0), 0);
    for (const i of hit) {
      unmatched.delete(i);
      const w = Math.ceil(((groups[i]?.weight ?? 0) * to.weight) / total);
      if (w > 0) out[i] = w;
    }
  }
  return out;
}
