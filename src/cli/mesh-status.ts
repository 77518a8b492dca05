import { readinessFailures } from './readiness-report.ts';
import { httpText, tcpOpen } from './runner/readiness.ts';
import type { MeshState } from './runner/state-file.ts';

export interface ComponentStatus {
  cluster: string;
  component: string;
  address: string;
  ready: boolean;
  detail: string;
}

export interface MeshStatus {
  name: string;
  discovery: string;
  network: string;
  allReady: boolean;
  components: ComponentStatus[];
}

/**
 * Probes every component of a running mesh (control plane, gateway, sidecars) concurrently. A
 * component not ready shows its status code and, when it answers a readiness report, the failing
 * checks (`not ready (503): federation: no full sync with Consul yet: …`).
 */
export async function meshStatus(state: MeshState): Promise<MeshStatus> {
  const probes: Promise<ComponentStatus>[] = [];
  const probe = (cluster: string, component: string, address: string, url: string, detail: string): void => {
    probes.push(
      httpText(url, 1500).then((r) => ({
        cluster,
        component,
        address,
        ready: r?.status === 200,
        detail: r === undefined ? 'not answering' : r.status === 200 ? detail : notReadyDetail(r.status, r.body),
      })),
    );
  };
  const probeTcp = (cluster: string, component: string, address: string, detail: string): void => {
    const i = address.lastIndexOf(':');
    probes.push(
      tcpOpen(address.slice(0, i), Number(address.slice(i + 1)), 1500).then((open) => ({
        cluster,
        component,
        address,
        ready: open,
        detail: open ? detail : 'not answering',
      })),
    );
  };
  for (const c of state.clusters) {
    const split = c.controlPlane.split;
    if (split) {
      probe(c.name, 'pilot', c.controlPlane.xdsTls, `${c.controlPlane.monitoring}/ready`, 'xDS on 15010 and 15012');
      probeTcp(c.name, 'citadel', split.citadel, 'CSR signing over TLS');
      probe(c.name, 'mixer', split.mixer, split.mixerMetrics, 'access-log sink, mesh metrics');
      probe(c.name, 'federation', new URL(split.federation).host, `${split.federation}/ready`, `${state.discovery} export and import`);
    } else {
      probe(c.name, 'controlplane', c.controlPlane.address, `${c.controlPlane.monitoring}/ready`, 'pilot, citadel, mixer, federation');
    }
    probe(c.name, 'gateway', c.gateway.address, `${c.gateway.admin}/ready`, 'east-west, SNI passthrough');
    for (const w of c.workloads) {
      const name = `${w.namespace}/${w.name}`;
      if (w.sidecar) probe(c.name, name, w.address, w.sidecar.health, w.spiffeId);
      else probeTcp(c.name, name, `${w.address}:${w.service.port}`, 'no sidecar');
    }
  }
  const components = await Promise.all(probes);
  return {
    name: state.name,
    discovery: state.discovery,
    network: state.network,
    allReady: components.every((c) => c.ready),
    components,
  };
}

function notReadyDetail(status: number, body: string): string {
  const failing = readinessFailures(body);
  return failing === undefined ? `not ready (${status})` : `not ready (${status}): ${failing}`;
}

export function printStatus(s: MeshStatus, out: (line: string) => void): void {
  out(`mesh ${s.name}  discovery=${s.discovery}  network=${s.network}  ${s.allReady ? 'all ready' : 'NOT all ready'}`);
  const rows = [['CLUSTER', 'COMPONENT', 'ADDRESS', 'STATUS', 'DETAIL'], ...s.components.map((c) => [c.cluster, c.component, c.address, c.ready ? 'ready' : 'DOWN', c.detail])];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  for (const r of rows) out(r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}
