/**
 * Imported endpoints → the MCS ServiceImport objects (multicluster.x-k8s.io/v1alpha1) that describe
 * them, a pure function: one ServiceImport per namespace/service imported from any cluster, with
 * the union of its ports and, in status, the clusters it comes from (KEP-1645).
 */
import type { ServiceProtocol } from '../../common/service-protocol.ts';
import type { ImportedEndpoint } from '../federation-interface.ts';

/** The label meshfed puts on the ServiceImports it owns; it never touches others. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'meshfed';

/** One port of a ServiceImport. */
export interface ServiceImportPort {
  port: number;
  protocol: 'TCP';
  appProtocol?: string;
}

/** The ServiceImport meshfed wants for one imported service. */
export interface DesiredServiceImport {
  namespace: string;
  name: string;
  spec: { type: 'ClusterSetIP'; ports: ServiceImportPort[] };
  status: { clusters: { cluster: string }[] };
}

/** Kubernetes' appProtocol names for meshfed's protocols (tcp has none: plain TCP). */
const APP_PROTOCOL: Readonly<Record<ServiceProtocol, string | undefined>> = {
  http: 'http',
  http2: 'kubernetes.io/h2c',
  grpc: 'grpc',
  'grpc-web': 'grpc-web',
  tcp: undefined,
  tls: 'tls',
};

/**
 * The ServiceImports for `byCluster` (cluster → its imported endpoints), sorted by namespace/name.
 * A port declared with different protocols by different clusters (an MCS PortConflict) takes the
 * protocol of the oldest export, as KEP-1645's conflict resolution says: the smallest
 * `firstSeen(cluster, namespace, service)` (epoch ms; default 0 for all), ties by cluster name. A
 * port without a protocol (older peers) is http.
 */
export function toServiceImports(
  byCluster: ReadonlyMap<string, readonly ImportedEndpoint[]>,
  firstSeen: (cluster: string, namespace: string, service: string) => number = () => 0,
): DesiredServiceImport[] {
  const services = new Map<string, { namespace: string; name: string; ports: Map<number, { protocol: ServiceProtocol; age: number }>; clusters: Set<string> }>();
  for (const cluster of [...byCluster.keys()].sort()) {
    for (const ep of byCluster.get(cluster) ?? []) {
      const key = `${ep.namespace}/${ep.service}`;
      let s = services.get(key);
      if (!s) {
        s = { namespace: ep.namespace, name: ep.service, ports: new Map(), clusters: new Set() };
        services.set(key, s);
      }
      const age = firstSeen(cluster, ep.namespace, ep.service);
      const had = s.ports.get(ep.port);
      // Clusters come in name order, so only a strictly older export replaces the protocol.
      if (had === undefined || age < had.age) s.ports.set(ep.port, { protocol: ep.protocol ?? 'http', age });
      s.clusters.add(cluster);
    }
  }
  return [...services.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, s]) => ({
      namespace: s.namespace,
      name: s.name,
      spec: {
        type: 'ClusterSetIP' as const,
        ports: [...s.ports.entries()]
          .sort(([a], [b]) => a - b)
          .map(([port, { protocol }]) => {
            const appProtocol = APP_PROTOCOL[protocol];
            return { port, protocol: 'TCP' as const, ...(appProtocol !== undefined ? { appProtocol } : {}) };
          }),
      },
      status: { clusters: [...s.clusters].sort().map((cluster) => ({ cluster })) },
    }));
}
