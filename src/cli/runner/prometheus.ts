import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { MeshState } from './state-file.ts';
import type { ManagedProcess, Supervisor } from './supervisor.ts';

/** Prometheus's own port. */
export const PROMETHEUS_PORT = 9090;

interface StaticGroup {
  targets: string[];
  labels: Record<string, string>;
}

interface ScrapeJob {
  job_name: string;
  metrics_path: string;
  static_configs: StaticGroup[];
}

function hostPortOf(url: string): string {
  return new URL(url).host;
}

/**
 * A Prometheus configuration that scrapes the whole local mesh with the job names Istio's own
 * Prometheus uses, so that Istio's queries and dashboards work: `envoy-stats` (sidecars and
 * gateways, /stats/prometheus on 15090), `pilot` (15014), and `mixer` (mesh-wide metrics from
 * access logs). Every target carries `cluster`, and sidecars also `namespace` and `workload`.
 */
export function prometheusConfig(state: MeshState, scrapeIntervalSeconds = 5): string {
  const envoy: StaticGroup[] = [];
  const pilot: StaticGroup[] = [];
  const mixer: StaticGroup[] = [];
  for (const c of state.clusters) {
    envoy.push({ targets: [hostPortOf(c.gateway.metrics)], labels: { cluster: c.name, workload: 'istio-eastwestgateway', namespace: 'istio-system' } });
    for (const w of c.workloads) {
      if (w.sidecar) envoy.push({ targets: [hostPortOf(w.sidecar.metrics)], labels: { cluster: c.name, namespace: w.namespace, workload: w.name } });
    }
    pilot.push({ targets: [hostPortOf(c.controlPlane.monitoring)], labels: { cluster: c.name } });
    const split = c.controlPlane.split;
    if (split) {
      mixer.push({ targets: [hostPortOf(split.mixerMetrics)], labels: { cluster: c.name } });
    }
  }
  const jobs: ScrapeJob[] = [
    { job_name: 'envoy-stats', metrics_path: '/stats/prometheus', static_configs: envoy },
    { job_name: 'pilot', metrics_path: '/metrics', static_configs: pilot },
  ];
  if (mixer.length > 0) jobs.push({ job_name: 'mixer', metrics_path: '/metrics', static_configs: mixer });
  const doc = {
    global: { scrape_interval: `${scrapeIntervalSeconds}s`, evaluation_interval: `${scrapeIntervalSeconds}s`, external_labels: { mesh: state.name } },
    scrape_configs: jobs,
  };
  return `# Written by \`meshfed up --prometheus\`; regenerated on every start.\n${stringify(doc)}`;
}

/**
 * Writes `<stateDir>/prometheus/prometheus.yml` and starts the real Prometheus under the
 * supervisor (stopped by PID with the rest), listening on `address:9090`.
 */
export async function startPrometheus(
  supervisor: Supervisor,
  bin: string,
  state: MeshState,
  address: string,
  netns?: string,
): Promise<{ proc: ManagedProcess; url: string; configFile: string }> {
  const dir = path.join(state.stateDir, 'prometheus');
  await mkdir(path.join(dir, 'data'), { recursive: true });
  const configFile = path.join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusConfig(state));
  const proc = supervisor.spawn({
    name: 'prometheus',
    command: bin,
    args: [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=${address}:${PROMETHEUS_PORT}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
    ...(netns ? { netns } : {}),
  });
  return { proc, url: `http://${address}:${PROMETHEUS_PORT}`, configFile };
}
