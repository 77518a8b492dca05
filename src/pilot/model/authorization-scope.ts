import type { AuthorizationPolicyConfig, RequestAuthenticationConfig } from '../config/config-types.ts';
import type { Snapshot } from './snapshot.ts';
import { matchesLabels } from './snapshot-queries.ts';

/** The proxy fields a security policy's scope reads. */
export interface AuthorizedWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** A security policy scoped as Istio scopes AuthorizationPolicy and RequestAuthentication. */
interface ScopedPolicy {
  readonly metadata: { readonly namespace: string };
  readonly spec: { readonly selector?: { readonly matchLabels: Readonly<Record<string, string>> } };
}

/**
 * The policies of `list` that apply to a workload, as Istio scopes them: every policy of the root
 * namespace (meshConfig `rootNamespace`, default `istio-system`) without a selector (mesh-wide),
 * every policy of the workload's namespace without a selector, and every policy of either whose
 * `selector.matchLabels` the workload's labels match. Ordered by namespace/name (the snapshot's
 * order). Memoised per list (one per snapshot) and namespace+labels, so a push computes a
 * workload's set once. Pure.
 */
function scoped<T extends ScopedPolicy>(snap: Snapshot, list: readonly T[], workload: AuthorizedWorkload): readonly T[] {
  if (list.length === 0) return list;
  let byList = memo.get(list);
  if (!byList) {
    byList = new Map();
    memo.set(list, byList);
  }
  const key = `${workload.namespace}\n${Object.entries(workload.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('\n')}`;
  const hit = byList.get(key);
  if (hit) return hit as readonly T[];
  const out = Object.freeze(
    list.filter((p) => {
      const ns = p.metadata.namespace;
      if (ns !== workload.namespace && ns !== snap.mesh.rootNamespace) return false;
      const selector = p.spec.selector;
      return !selector || matchesLabels(selector.matchLabels, workload.labels);
    }),
  );
  byList.set(key, out);
  return out;
}

/** The AuthorizationPolicies that apply to a workload (see scoped). */
export function authorizationPoliciesFor(snap: Snapshot, workload: AuthorizedWorkload): readonly AuthorizationPolicyConfig[] {
  return scoped(snap, snap.authorizationPolicies, workload);
}

/** The RequestAuthentications that apply to a workload (see scoped). */
export function requestAuthenticationsFor(snap: Snapshot, workload: AuthorizedWorkload): readonly RequestAuthenticationConfig[] {
  return scoped(snap, snap.requestAuthentications, workload);
}

const memo = new WeakMap<readonly ScopedPolicy[], Map<string, readonly ScopedPolicy[]>>();
