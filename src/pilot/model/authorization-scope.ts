import type { AuthorizationPolicyConfig } from '../config/config-types.ts';
import type { Snapshot } from './snapshot.ts';
import { matchesLabels } from './snapshot-queries.ts';

/** The proxy fields an AuthorizationPolicy's scope reads. */
export interface AuthorizedWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The AuthorizationPolicies that apply to a workload, as Istio scopes them: every policy of the
 * root namespace (meshConfig `rootNamespace`, default `istio-system`) without a selector (mesh-wide), every policy of the workload's
 * namespace without a selector, and every policy of either whose `selector.matchLabels` the
 * workload's labels match. Ordered by namespace/name (the snapshot's order). Memoised per snapshot
 * and namespace+labels, so a push computes a workload's set once. Pure.
 */
export function authorizationPoliciesFor(snap: Snapshot, workload: AuthorizedWorkload): readonly AuthorizationPolicyConfig[] {
  if (snap.authorizationPolicies.length === 0) return NONE;
  let bySnap = memo.get(snap);
  if (!bySnap) {
    bySnap = new Map();
    memo.set(snap, bySnap);
  }
  const key = `${workload.namespace}\n${Object.entries(workload.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('\n')}`;
  const hit = bySnap.get(key);
  if (hit) return hit;
  const out = Object.freeze(
    snap.authorizationPolicies.filter((p) => {
      const ns = p.metadata.namespace;
      if (ns !== workload.namespace && ns !== snap.mesh.rootNamespace) return false;
      const selector = p.spec.selector;
      return !selector || matchesLabels(selector.matchLabels, workload.labels);
    }),
  );
  bySnap.set(key, out);
  return out;
}

const NONE: readonly AuthorizationPolicyConfig[] = Object.freeze([]);
const memo = new WeakMap<Snapshot, Map<string, readonly AuthorizationPolicyConfig[]>>();
