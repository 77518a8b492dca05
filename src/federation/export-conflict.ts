/**
 * MCS (KEP-1645) conflict detection between the clusters exporting one service, a pure function.
 *
 * meshfed compares what federation carries of an exported Service: its ports, as port number and
 * protocol (`http:9080`; meshfed's exports have no port names, no service type other than
 * ClusterSetIP, and no session affinity, so there is nothing else to differ). Ports are merged as
 * KEP-1645 merges them, by union: a port only one cluster declares is no conflict. A port number
 * declared with different protocols by two clusters is a `PortConflict`; then every exporting
 * cluster's ServiceExport gets `Conflict=True`, and the port takes the protocol of the oldest
 * export (MCS's conflict resolution). "Oldest" is the order in which this control plane first saw
 * each cluster's export of the service (federation carries no creationTimestamp), ties broken by
 * cluster name.
 */
import type { ServiceProtocol } from '../common/service-protocol.ts';
import type { ConflictVerdict } from './federation-interface.ts';

/** One cluster's export of a service, as the comparison sees it. */
export interface ClusterExport {
  cluster: string;
  ports: readonly { port: number; protocol: ServiceProtocol }[];
  /** When this control plane first saw the export (epoch ms); smaller is older. */
  firstSeen: number;
}

/** The comparison of a service's exports: the merged ports and each cluster's verdict. */
export interface ExportComparison {
  /** The union of ports, sorted by number, each with the protocol of its oldest exporter. */
  ports: { port: number; protocol: ServiceProtocol }[];
  /** Verdict per exporting cluster. */
  verdicts: Map<string, ConflictVerdict>;
}

const older = (a: ClusterExport, b: ClusterExport): number => a.firstSeen - b.firstSeen || (a.cluster < b.cluster ? -1 : a.cluster > b.cluster ? 1 : 0);

/**
 * Compares the exports of one service (one entry per cluster). With a conflict, every cluster's
 * verdict is `True` with a message naming the port, the other cluster(s) and what each declared,
 * and which cluster's export wins; without one, `False`.
 */
export function compareExports(exports: readonly ClusterExport[]): ExportComparison {
  const byAge = [...exports].sort(older);
  const declared = new Map<number, { cluster: string; protocol: ServiceProtocol }[]>();
  for (const e of byAge) {
    for (const p of e.ports) {
      const list = declared.get(p.port) ?? [];
      if (!list.some((d) => d.cluster === e.cluster)) list.push({ cluster: e.cluster, protocol: p.protocol });
      declared.set(p.port, list);
    }
  }
  const ports = [...declared.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([port, list]) => (list[0] ? [{ port, protocol: list[0].protocol }] : []));
  const conflicting = [...declared.entries()].sort(([a], [b]) => a - b).filter(([, list]) => new Set(list.map((d) => d.protocol)).size > 1);
  const verdicts = new Map<string, ConflictVerdict>();
  for (const e of byAge) {
    const others = byAge.filter((o) => o.cluster !== e.cluster).map((o) => o.cluster);
    if (conflicting.length === 0) {
      verdicts.set(e.cluster, {
        status: 'False',
        reason: 'NoConflict',
        message: others.length === 0 ? 'no other cluster exports this service' : `agrees with ${others.join(', ')}`,
      });
      continue;
    }
    const parts = conflicting.map(([port, list]) => {
      const winner = list[0];
      const seen = list.map((d) => `${d.cluster === e.cluster ? 'this cluster' : d.cluster} ${d.protocol}`).join(', ');
      return `port ${port} is declared ${seen}; ${winner?.protocol ?? ''} of the oldest export (${winner?.cluster ?? ''}) is used`;
    });
    // The clusters declaring a conflicting port otherwise than this one (all of them where this one does not declare it).
    const differing = conflicting.flatMap(([, list]) => {
      const mine = list.find((d) => d.cluster === e.cluster)?.protocol;
      return list.filter((d) => d.cluster !== e.cluster && d.protocol !== mine).map((d) => d.cluster);
    });
    const named = differing.length > 0 ? [...new Set(differing)] : others;
    verdicts.set(e.cluster, { status: 'True', reason: 'PortConflict', message: `conflicts with ${named.join(', ')}: ${parts.join('; ')}` });
  }
  return { ports, verdicts };
}
