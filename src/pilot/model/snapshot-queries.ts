import type { Subset } from '../config/config-types.ts';
import type { EndpointModel, LocalEndpoint, Snapshot } from './snapshot.ts';
import { workloadKey } from './snapshot.ts';

/** True when every selector label is present with the same value (an empty selector matches all). */
export function matchesLabels(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The DestinationRule subsets of `hostname`, in declaration order. */
export function subsetsOf(snap: Snapshot, hostname: string): readonly Subset[] {
  return snap.destinationRules.get(hostname)?.spec.subsets ?? [];
}

/**
 * Endpoints of `hostname` serving `port` and matching `subset`'s labels (subset `''`: all). An
 * unknown subset matches nothing, as in Istio.
 */
export function endpointsFor(snap: Snapshot, hostname: string, port: number, subset: string): EndpointModel[] {
  let selector: Readonly<Record<string, string>> = {};
  if (subset !== '') {
    const s = subsetsOf(snap, hostname).find((x) => x.name === subset);
    if (!s) return [];
    selector = s.labels;
  }
  return (snap.endpoints.get(hostname) ?? []).filter((e) => e.port === port && matchesLabels(selector, e.labels));
}

/** The local endpoints of a proxy's own workload (one per service port it serves). */
export function ownEndpoints(snap: Snapshot, proxy: { cluster: string; namespace: string; workload: string }): readonly LocalEndpoint[] {
  return snap.workloads.get(workloadKey(proxy.cluster, proxy.namespace, proxy.workload)) ?? [];
}

/** True when some endpoint of the service speaks mesh mTLS (a sidecar'd local or any remote one). */
export function hasMeshEndpoints(snap: Snapshot, hostname: string): boolean {
  return (snap.endpoints.get(hostname) ?? []).some((e) => e.kind === 'remote' || e.sidecar);
}

/**
 * The SPIFFE IDs a client may accept from `hostname`'s mesh endpoints (Istio's service accounts
 * of a service, `match_subject_alt_names`): `spiffe://<trust domain>/ns/<ns>/sa/<sa>` of every
 * sidecar'd local and every remote endpoint (remote clusters share the trust domain through the
 * one root), sorted and unique. Empty when one of them has no known service account (a registry
 * that does not say, e.g. a pod not seen yet): the caller then accepts any mesh identity rather
 * than refuse a legitimate endpoint.
 */
export function serviceSpiffeIds(snap: Snapshot, hostname: string): string[] {
  const out = new Set<string>();
  for (const e of snap.endpoints.get(hostname) ?? []) {
    if (e.kind === 'local' && !e.sidecar) continue;
    if (e.serviceAccount === '') return [];
    out.add(`spiffe://${snap.trustDomain}/ns/${e.namespace}/sa/${e.serviceAccount}`);
  }
  return [...out].sort();
}

/**
 * Hostnames this cluster exports: a ServiceExport exists and the service has local sidecar'd
 * endpoints in this cluster (only those can terminate mTLS behind the gateway's passthrough).
 */
export function exportedHostnames(snap: Snapshot): string[] {
  return [...snap.exported].filter((h) =>
    (snap.endpoints.get(h) ?? []).some((e) => e.kind === 'local' && e.sidecar && e.cluster === snap.cluster),
  );
}
