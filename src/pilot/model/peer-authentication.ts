import type { MtlsMode, PeerAuthenticationConfig } from '../config/config-types.ts';
import type { Snapshot } from './snapshot.ts';
import { matchesLabels } from './snapshot-queries.ts';
import { DEFAULT_MESH_CONFIG } from '../config/mesh-config.ts';

/** The mTLS mode that applies on an inbound port once `UNSET` is resolved: Istio's default is PERMISSIVE. */
export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

/** The workload fields PeerAuthentication selection reads. */
export interface MtlsWorkload {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The policies that apply to one workload, one per scope, as Istio picks them. */
export interface ApplicablePolicies {
  readonly mesh?: PeerAuthenticationConfig;
  readonly namespace?: PeerAuthenticationConfig;
  readonly workload?: PeerAuthenticationConfig;
}

/**
 * Istio's selection: the mesh policy is the first (by name) without selector in the root
 * namespace; the namespace policy the first without selector in the workload's namespace (the
 * root namespace's own workloads get the mesh policy as both); the workload policy the first in
 * the workload's namespace whose selector matches its labels. Istio breaks ties by creation time,
 * then name; file configuration has no creation time, so name decides (`policies` is sorted by
 * namespace/name). Pure.
 */
export function applicablePolicies(
  policies: readonly PeerAuthenticationConfig[],
  workload: MtlsWorkload,
  rootNamespace: string = DEFAULT_MESH_CONFIG.rootNamespace,
): ApplicablePolicies {
  let mesh: PeerAuthenticationConfig | undefined;
  let namespace: PeerAuthenticationConfig | undefined;
  let selected: PeerAuthenticationConfig | undefined;
  for (const pa of policies) {
    const ns = pa.metadata.namespace;
    const selector = pa.spec.selector;
    if (selector) {
      if (ns === workload.namespace && selected === undefined && matchesLabels(selector.matchLabels, workload.labels)) selected = pa;
      continue;
    }
    if (ns === rootNamespace) mesh ??= pa;
    if (ns === workload.namespace) namespace ??= pa;
  }
  return { ...(mesh ? { mesh } : {}), ...(namespace ? { namespace } : {}), ...(selected ? { workload: selected } : {}) };
}

/**
 * The effective mode on one of the workload's ports, by Istio's precedence: the workload policy's
 * `portLevelMtls` for the port, then its `mtls`, then the namespace policy, then the mesh policy,
 * each `UNSET` (or absent) deferring to the next; PERMISSIVE when all defer. Pure.
 */
export function effectiveMtlsMode(applicable: ApplicablePolicies, port: number): EffectiveMtlsMode {
  const chain: (MtlsMode | undefined)[] = [
    applicable.workload?.spec.portLevelMtls.find((p) => p.port === port)?.mode,
    applicable.workload?.spec.mode,
    applicable.namespace?.spec.mode,
    applicable.mesh?.spec.mode,
  ];
  for (const mode of chain) if (mode !== undefined && mode !== 'UNSET') return mode;
  return 'PERMISSIVE';
}

/** Memo per immutable snapshot: workload key (namespace and labels) → port → mode. */
const modesBySnapshot = new WeakMap<Snapshot, Map<string, Map<number, EffectiveMtlsMode>>>();

/**
 * The effective mode of `workload` on `port` in `snap`, cached per snapshot (snapshots are
 * immutable, so an entry never goes stale). Pure.
 */
export function workloadMtlsMode(snap: Snapshot, workload: MtlsWorkload, port: number): EffectiveMtlsMode {
  if (snap.peerAuthentications.length === 0) return 'PERMISSIVE';
  let bySnapshot = modesBySnapshot.get(snap);
  if (!bySnapshot) {
    bySnapshot = new Map();
    modesBySnapshot.set(snap, bySnapshot);
  }
  const key = `${workload.namespace} ${JSON.stringify(Object.entries(workload.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
  let byPort = bySnapshot.get(key);
  if (!byPort) {
    byPort = new Map();
    bySnapshot.set(key, byPort);
  }
  let mode = byPort.get(port);
  if (mode === undefined) {
    mode = effectiveMtlsMode(applicablePolicies(snap.peerAuthentications, workload, snap.mesh.rootNamespace), port);
    byPort.set(port, mode);
  }
  return mode;
}
