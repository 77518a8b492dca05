import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse } from 'yaml';
import { prometheusConfig } from '../../src/cli/runner/prometheus.ts';
import type { MeshState } from '../../src/cli/runner/state-file.ts';
import { findTool } from '../support/tools.ts';

/** The Prometheus configuration `meshfed up --prometheus` writes, checked by the real promtool. */
const run = promisify(execFile);

const workload = (cluster: string, name: string, address: string, sidecar: boolean): MeshState['clusters'][number]['workloads'][number] => ({
  cluster,
  namespace: 'default',
  name,
  address,
  spiffeId: `spiffe://cluster.local/ns/default/sa/${name}`,
  service: { name, hostname: `${name}.default.svc.cluster.local`, port: 9080, protocol: 'http' },
  labels: {},
  app: 'echo',
  sidecar: sidecar
    ? {
        outbound: `${address}:15001`,
        inbound: `${address}:15006`,
        admin: `http://${address}:15000`,
        health: `http://${address}:15021/healthz/ready`,
        metrics: `http://${address}:15090/stats/prometheus`,
      }
    : null,
});

const cluster = (name: string, n: number, split: boolean): MeshState['clusters'][number] => ({
  name,
  netns: null,
  configDir: `/tmp/${name}`,
  controlPlane: {
    address: `127.9.${n}.1`,
    xds: `127.9.${n}.1:15010`,
    xdsTls: `127.9.${n}.1:15012`,
    monitoring: `http://127.9.${n}.1:15014`,
    ...(split
      ? {
          split: {
            citadel: `127.9.${n}.1:8060`,
            mixer: `127.9.${n}.1:9091`,
            mixerMetrics: `http://127.9.${n}.1:42422/metrics`,
            federation: `http://127.9.${n}.1:15016`,
          },
        }
      : {}),
  },
  gateway: { address: `127.9.${n}.2:15443`, admin: `http://127.9.${n}.2:15000`, metrics: `http://127.9.${n}.2:15090/stats/prometheus` },
  consul: null,
  workloads: [workload(name, 'reviews', `127.9.${n}.10`, true), workload(name, 'grpc-echo', `127.9.${n}.11`, false)],
});

const state = (split: boolean): MeshState => ({
  name: 'demo',
  runnerPid: 1,
  stateDir: '/tmp/demo',
  trustDomain: 'cluster.local',
  discovery: 'memory',
  network: 'loopback',
  memoryDiscovery: null,
  prometheus: null,
  clusters: [cluster('east', 1, split), cluster('west', 2, split)],
});

interface Job {
  job_name: string;
  metrics_path: string;
  static_configs: { targets: string[]; labels: Record<string, string> }[];
}

for (const split of [false, true]) {
  test(`the config scrapes sidecars, gateways and control planes (${split ? 'split' : 'istiod'}) and promtool accepts it`, async (t) => {
    const text = prometheusConfig(state(split));
    const jobs = (parse(text) as { scrape_configs: Job[] }).scrape_configs;
    const rows = jobs.flatMap((j) => j.static_configs.map((g) => `${j.job_name} ${j.metrics_path} ${g.targets.join(',')} ${g.labels['cluster']}/${g.labels['workload'] ?? '-'}`));
    t.deepEqual(rows, [
      'envoy-stats /stats/prometheus 127.9.1.2:15090 east/istio-eastwestgateway',
      'envoy-stats /stats/prometheus 127.9.1.10:15090 east/reviews',
      'envoy-stats /stats/prometheus 127.9.2.2:15090 west/istio-eastwestgateway',
      'envoy-stats /stats/prometheus 127.9.2.10:15090 west/reviews',
      'pilot /metrics 127.9.1.1:15014 east/-',
      'pilot /metrics 127.9.2.1:15014 west/-',
      ...(split ? ['mixer /metrics 127.9.1.1:42422 east/-', 'mixer /metrics 127.9.2.1:42422 west/-'] : []),
    ]);

    const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-prom-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'prometheus.yml');
    await writeFile(file, text);
    const r = await run(findTool('promtool'), ['check', 'config', file]);
    t.regex(r.stdout + r.stderr, /SUCCESS/);
  });
}
