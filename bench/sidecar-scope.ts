/**
 * What an Istio Sidecar saves one proxy: the size of its CDS, EDS and RDS (resource counts, and
 * bytes as encoded in a DiscoveryResponse) in a mesh of N services (default 1,000, in namespaces
 * of 10, two endpoints each, a DestinationRule with two subsets on every service), without a
 * Sidecar and with a namespace Sidecar importing 10 hosts. Also the time Pilot takes to generate
 * them (once per snapshot and generation key in Pilot): the median of 5 runs, each over a fresh
 * snapshot so that no memo is reused (the scoped runs include building the proxy's scoped view).
 * Pure computation: no sockets.
 *
 *   node --import tsx bench/sidecar-scope.ts [--services 1000] [--hosts 10]
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { WorkloadSpec } from '../src/common/workload.ts';
import { type ConfigObject, parseConfigText } from '../src/pilot/config/index.ts';
import { generate } from '../src/pilot/generators/index.ts';
import { workloadShard } from '../src/pilot/registry/index.ts';
import { buildSnapshot, type Snapshot } from '../src/pilot/model/index.ts';
import { encodeResourceField } from '../src/xds/discovery-response-codec.ts';
import type { ProxyNode } from '../src/xds/node.ts';
import { TYPE_URL, type XdsTypeUrl } from '../src/xds/type-urls.ts';

const { values } = parseArgs({ options: { services: { type: 'string', default: '1000' }, hosts: { type: 'string', default: '10' } } });
const SERVICES = Number(values.services);
const HOSTS = Number(values.hosts);
const PER_NAMESPACE = 10;

function parse(text: string, source: string): ConfigObject[] {
  const r = parseConfigText(text, source);
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
}

function mesh(withSidecar: boolean): Snapshot {
  const workloads: WorkloadSpec[] = [];
  const config: ConfigObject[] = [];
  for (let i = 0; i < SERVICES; i++) {
    const name = `svc-${i}`;
    const namespace = `ns-${Math.floor(i / PER_NAMESPACE)}`;
    for (const version of ['v1', 'v2']) {
      const n = workloads.length;
      workloads.push({
        name: `${name}-${version}`, namespace, serviceAccount: name, cluster: 'east', address: `127.${1 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`,
        labels: { app: name, version }, sidecar: true, service: { name, port: 8080, protocol: 'http' },
      });
    }
    config.push(
      ...parse(
        `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec:\n  host: ${name}\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n`,
        `${name}.yaml`,
      ),
    );
  }
  if (withSidecar) {
    // The client's namespace imports HOSTS services, spread over the mesh, by FQDN.
    const step = Math.max(1, Math.floor(SERVICES / HOSTS));
    const hosts = Array.from({ length: HOSTS }, (_, k) => {
      const i = (k * step) % SERVICES;
      const ns = `ns-${Math.floor(i / PER_NAMESPACE)}`;
      return `${ns}/svc-${i}.${ns}.svc.cluster.local`;
    });
    config.push(...parse(`apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: client}\nspec:\n  egress:\n  - hosts: [${hosts.join(', ')}]\n`, 'sidecar.yaml'));
  }
  workloads.push({
    name: 'client', namespace: 'client', serviceAccount: 'client', cluster: 'east', address: '127.250.0.1',
    labels: { app: 'client' }, sidecar: true, service: { name: 'client', port: 8080, protocol: 'http' },
  });
  return buildSnapshot({
    cluster: 'east', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', version: '1',
    shards: [workloadShard({ registry: 'file', cluster: 'east', workloads, domainSuffix: 'cluster.local' })], config,
  });
}

const proxy: ProxyNode = {
  id: 'sidecar~127.250.0.1~client.client~client.svc.cluster.local', type: 'sidecar', ip: '127.250.0.1',
  workload: 'client', namespace: 'client', cluster: 'east', serviceAccount: 'client', labels: { app: 'client' },
};

interface Measure {
  resources: number;
  /** Outbound clusters (CDS), load assignments (EDS) or virtual hosts (RDS). */
  entries: number;
  bytes: number;
  ms: number;
}

const RUNS = 5;

function measure(withSidecar: boolean, typeUrl: XdsTypeUrl): Measure {
  const times: number[] = [];
  let out = generate(proxy, typeUrl, mesh(withSidecar));
  for (let i = 0; i < RUNS; i++) {
    const snap = mesh(withSidecar);
    const started = performance.now();
    out = generate(proxy, typeUrl, snap);
    times.push(performance.now() - started);
  }
  const ms = times.sort((a, b) => a - b)[Math.floor(RUNS / 2)] ?? 0;
  const bytes = out.reduce((n, r) => n + encodeResourceField(r.resource).length, 0);
  let entries = out.length;
  if (typeUrl === TYPE_URL.route) entries = out.reduce((n, r) => n + ('virtual_hosts' in r.resource ? r.resource.virtual_hosts.length : 0), 0);
  return { resources: out.length, entries, bytes, ms };
}

const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;
console.log(`mesh: ${SERVICES} services in namespaces of ${PER_NAMESPACE}, 2 endpoints and 2 subsets each; Sidecar importing ${HOSTS} hosts`);
console.log('| xDS | without Sidecar: resources (entries), bytes, generate | with Sidecar | smaller by |');
console.log('|---|---:|---:|---:|');
for (const [label, typeUrl] of [['CDS', TYPE_URL.cluster], ['EDS', TYPE_URL.endpoint], ['RDS', TYPE_URL.route]] as const) {
  const a = measure(false, typeUrl);
  const b = measure(true, typeUrl);
  const cell = (m: Measure): string => `${m.resources}${m.entries !== m.resources ? ` (${m.entries} virtual hosts)` : ''}, ${kb(m.bytes)}, ${m.ms.toFixed(1)} ms`;
  console.log(`| ${label} | ${cell(a)} | ${cell(b)} | ${(a.bytes / b.bytes).toFixed(0)}× (bytes) |`);
}
