/**
 * `node --import tsx bench/push/push-pilot-cpu.ts [--trials 5]`: Pilot's own CPU per change of the
 * push benchmark's mesh (bench/push/push-bench.ts: 1,000 services × 10 endpoints, 100 sidecars),
 * without the transport, so the figures do not depend on how busy the clients keep the machine.
 * In one process: the real file registry (its watch and re-read), buildSnapshot over its shard
 * and the config objects, diffSnapshots, and the push server's generator output cache
 * (ResourceCache: generation, encoding and hashing, shared by generation key) asked for every
 * type each of the 100 proxies gets. Per trial:
 * - config: the same DestinationRule and VirtualService flip as push-bench.ts (parsed before the
 *   clock starts), then snapshot, diff and CDS, EDS, LDS, RDS for every proxy;
 * - endpoints: one replica moves (the file is rewritten; the clock runs from the write to the
 *   registry's change event, then snapshot, diff and EDS for every proxy).
 * Prints CPU ms of each stage (process.cpuUsage: user + system).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { ResourceCache } from '../../src/pilot/ads/resource-cache.ts';
import { type ConfigObject, parseConfigText } from '../../src/pilot/config/index.ts';
import { generate, generationKey } from '../../src/pilot/generators/index.ts';
import { buildSnapshot, diffSnapshots, type Snapshot } from '../../src/pilot/model/index.ts';
import { createFileRegistry } from '../../src/pilot/registry/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { PUSH_ORDER, TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { pushMesh, workloadAddress } from './push-mesh.ts';

const at = process.argv.indexOf('--trials');
const trials = at >= 0 ? Number(process.argv[at + 1]) : 5;
if (!Number.isInteger(trials) || trials < 1) throw new Error('invalid --trials: must be a positive integer');
const shape = { services: 1000, replicas: 10 };
const proxies = 100;
const logger = pino({ level: 'silent' });

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

const dir = await mkdtemp(path.join(os.tmpdir(), 'meshfed-bench-pilot-cpu-'));
try {
  const file = path.join(dir, 'workloads.json');
  await writeFile(file, JSON.stringify(pushMesh(shape)));
  const registry = createFileRegistry(file, logger);
  const nodes: ProxyNode[] = Array.from({ length: proxies }, (_, i) => ({
    id: `sidecar~${workloadAddress(i, 0)}~w${i}-0.default~default.svc.cluster.local`,
    type: 'sidecar',
    ip: workloadAddress(i, 0),
    workload: `w${i}-0`,
    namespace: 'default',
    cluster: 'east',
    serviceAccount: `svc${i}`,
    labels: { app: `svc${i}` },
  }));
  let config: readonly ConfigObject[] = [];
  let generation = 0;
  const build = (previous?: Snapshot): Snapshot =>
    buildSnapshot({
      cluster: 'east',
      trustDomain: 'cluster.local',
      domainSuffix: 'cluster.local',
      gatewayAddress: '127.79.255.1',
      shards: registry.shards(),
      config,
      version: `v${++generation}`,
      ...(previous !== undefined ? { previous } : {}),
    });
  const cache = new ResourceCache<Snapshot>(generate, generationKey, logger);
  const pushAll = (snap: Snapshot, types: readonly XdsTypeUrl[]): void => {
    for (const node of nodes) for (const t of types) cache.get(node, t, snap);
  };
  let snap = build();
  pushAll(snap, PUSH_ORDER);
  const rows: string[] = [];
  for (let i = 0; i < trials; i++) {
    const lb = i % 2 === 0 ? 'LEAST_REQUEST' : 'ROUND_ROBIN';
    const text = `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: svc0}\nspec:\n  host: svc0\n  trafficPolicy: {loadBalancer: {simple: ${lb}}}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc0}\nspec:\n  hosts: [svc0]\n  http:\n  - route: [{destination: {host: svc0}}]\n    timeout: ${1000 + i}ms\n`;
    const parsed = parseConfigText(text, 'svc0.yaml');
    if (!parsed.ok) throw new Error(parsed.errors.map(String).join('\n'));
    config = parsed.value;
    let t0 = process.cpuUsage();
    let next = build(snap);
    const configScope = diffSnapshots(snap, next).scope;
    const configSnapshot = cpuMs(t0);
    t0 = process.cpuUsage();
    pushAll(next, PUSH_ORDER);
    const configGenerate = cpuMs(t0);
    snap = next;

    const moved = { service: (i * 37) % shape.services, replica: 1 + (i % (shape.replicas - 1)), address: `127.79.250.${10 + i}` };
    const registryText = JSON.stringify(pushMesh(shape, moved));
    const changed = new Promise<void>((resolve) => registry.onChange(() => resolve()));
    t0 = process.cpuUsage();
    await writeFile(file, registryText);
    await changed;
    const endpointRegistry = cpuMs(t0);
    t0 = process.cpuUsage();
    next = build(snap);
    const endpointScope = diffSnapshots(snap, next).scope;
    const endpointSnapshot = cpuMs(t0);
    t0 = process.cpuUsage();
    pushAll(next, [TYPE_URL.endpoint]);
    const endpointGenerate = cpuMs(t0);
    snap = next;
    rows.push(
      `| ${i + 1} | ${configScope}: ${configSnapshot.toFixed(0)} + ${configGenerate.toFixed(0)} ms | ${endpointScope}: ${endpointRegistry.toFixed(0)} + ${endpointSnapshot.toFixed(0)} + ${endpointGenerate.toFixed(0)} ms |`,
    );
  }
  registry.close();
  process.stderr.write('| trial | config: snapshot + generate | endpoints: registry + snapshot + generate |\n|---:|---|---|\n');
  process.stderr.write(`${rows.join('\n')}\n`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
