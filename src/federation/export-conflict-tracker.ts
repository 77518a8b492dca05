/**
 * Keeps what the Conflict comparison (export-conflict.ts) needs: this cluster's exports (from the
 * control plane's export state, `updateLocal`) and every other cluster's (an ImportSink beside
 * Pilot's, fed by the federation controller). A remote cluster's export is known through its
 * imported endpoints, so a remote export with no passing endpoint is not compared.
 *
 * `firstSeen` of an export is when this tracker first saw it; an export that goes away and comes
 * back is new. Listeners run only when some verdict of this cluster's exports changed.
 */
import type { ServiceProtocol } from '../common/service-protocol.ts';
import { type ClusterExport, compareExports } from './export-conflict.ts';
import type { ConflictVerdict, ExportConflictSource, ImportedEndpoint, ImportSink, LocalExportState } from './federation-interface.ts';

type Ports = { port: number; protocol: ServiceProtocol }[];

/** An ImportSink and the local export state in, ServiceExport Conflict verdicts out. */
export interface ExportConflictTracker extends ImportSink, ExportConflictSource {
  /** Replaces this cluster's exports (call with the control plane's export state on every push). */
  updateLocal(state: LocalExportState): void;
}

/** Starts an empty tracker; `now` (epoch ms) stamps first-seen times. */
export function createExportConflictTracker(opts: { now?: () => number } = {}): ExportConflictTracker {
  const now = opts.now ?? Date.now;
  let localCluster = '';
  let local = new Map<string, Ports>();
  const remote = new Map<string, Map<string, Ports>>();
  const firstSeen = new Map<string, number>();
  const listeners: (() => void)[] = [];
  let fingerprint = '[]';

  const verdicts = (): Map<string, ConflictVerdict> => {
    const out = new Map<string, ConflictVerdict>();
    for (const [key, ports] of local) {
      const exports: ClusterExport[] = [{ cluster: localCluster, ports, firstSeen: firstSeen.get(`${localCluster} ${key}`) ?? 0 }];
      for (const [cluster, services] of remote) {
        const p = services.get(key);
        if (p && cluster !== localCluster) exports.push({ cluster, ports: p, firstSeen: firstSeen.get(`${cluster} ${key}`) ?? 0 });
      }
      const v = compareExports(exports).verdicts.get(localCluster);
      if (v) out.set(key, v);
    }
    return out;
  };
  let current = new Map<string, ConflictVerdict>();

  /** Re-stamps first-seen for `cluster`'s exports and notifies when a verdict changed. */
  const changed = (cluster: string, services: ReadonlyMap<string, Ports>): void => {
    const t = now();
    for (const k of [...firstSeen.keys()]) if (k.startsWith(`${cluster} `) && !services.has(k.slice(cluster.length + 1))) firstSeen.delete(k);
    for (const key of services.keys()) if (!firstSeen.has(`${cluster} ${key}`)) firstSeen.set(`${cluster} ${key}`, t);
    current = verdicts();
    const next = JSON.stringify([...current.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    if (next === fingerprint) return;
    fingerprint = next;
    for (const cb of listeners) cb();
  };

  return {
    updateLocal(state) {
      localCluster = state.cluster;
      local = new Map(state.exports.map((s) => [`${s.namespace}/${s.name}`, s.ports.map((p) => ({ port: p.port, protocol: p.protocol }))]));
      changed(localCluster, local);
    },
    replaceCluster(cluster: string, endpoints: ImportedEndpoint[]) {
      const services = new Map<string, Ports>();
      for (const ep of endpoints) {
        const key = `${ep.namespace}/${ep.service}`;
        const ports = services.get(key) ?? [];
        if (!ports.some((p) => p.port === ep.port)) ports.push({ port: ep.port, protocol: ep.protocol ?? 'http' });
        services.set(key, ports);
      }
      remote.set(cluster, services);
      changed(cluster, services);
    },
    removeCluster(cluster: string) {
      remote.delete(cluster);
      changed(cluster, new Map());
    },
    verdict: (namespace, name) => current.get(`${namespace}/${name}`),
    onChange(cb) {
      listeners.push(cb);
    },
  };
}
