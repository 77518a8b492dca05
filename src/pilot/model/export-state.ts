import { PORTS } from '../../common/ports.ts';
import type { ExportedService, LocalExportState } from '../../federation/federation-interface.ts';
import type { Snapshot } from './snapshot.ts';
import { exportedHostnames } from './snapshot-queries.ts';

/**
 * What this cluster offers to the federation: every service with a ServiceExport and local
 * sidecar'd endpoints, with the ports and workloads behind it. Without a gateway address nothing is
 * reachable from other clusters, so `exports` is empty and `gateway.address` is `''`.
 */
export function exportState(snap: Snapshot): LocalExportState {
  const gateway = { address: snap.gatewayAddress ?? '', port: PORTS.eastWestGateway };
  if (snap.gatewayAddress === undefined || snap.gatewayAddress === '') return { cluster: snap.cluster, gateway, exports: [] };
  const exports: ExportedService[] = [];
  for (const hostname of exportedHostnames(snap)) {
    const service = snap.services.get(hostname);
    if (!service) continue;
    const local = (snap.endpoints.get(hostname) ?? []).flatMap((e) => (e.kind === 'local' && e.sidecar && e.cluster === snap.cluster ? [e] : []));
    const ports = service.ports.filter((p) => local.some((e) => e.port === p.port)).map((p) => ({ port: p.port, protocol: p.protocol }));
    const seen = new Set<string>();
    const endpoints: ExportedService['endpoints'] = [];
    for (const e of local) {
      if (seen.has(e.workload)) continue;
      seen.add(e.workload);
      endpoints.push({ workload: e.workload, serviceAccount: e.serviceAccount, labels: { ...e.labels } });
    }
    exports.push({ namespace: service.namespace, name: service.name, hostname, ports, endpoints });
  }
  return { cluster: snap.cluster, gateway, exports };
}
