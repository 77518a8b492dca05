/**
 * The local runner's workload format (WorkloadSpec, one service and one port per workload) as the
 * registries' model: one RegistryService port and one RegistryEndpoint per workload. Pure.
 */
import type { WorkloadSpec } from '../../common/workload.ts';
import type { ImportedEndpoint } from '../../federation/federation-interface.ts';
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from './locality-labels.ts';
import type { RegistryShard } from './registry-interface.ts';
import type { RegistryEndpoint, RegistryService, RegistryServicePort } from './registry-types.ts';

/** The hostname of service `name` in `namespace`: `<name>.<namespace>.svc.<domainSuffix>`. */
export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** The name a workload's port gets: `<protocol>-<port>`, which selectProtocol reads back as `protocol`. */
export function workloadPortName(w: WorkloadSpec): string {
  return `${w.service.protocol}-${w.service.port}`;
}

/**
 * The endpoint of one workload, one object per (frozen WorkloadSpec object, domain suffix): a
 * registry that keeps unchanged workloads' objects (registry-file.ts) gets the same endpoint
 * objects back, and buildSnapshot keeps one model endpoint per endpoint object, so structural
 * sharing recognises unchanged workloads by identity. Locality: the workload's own
 * `topology.kubernetes.io/region|zone` and `topology.istio.io/subzone` labels. A workload is always
 * healthy (the runner lists what it started).
 */
const endpointBySpec = new WeakMap<WorkloadSpec, { domainSuffix: string; ep: RegistryEndpoint }>();

export function workloadEndpoint(w: WorkloadSpec, domainSuffix: string): RegistryEndpoint {
  const hit = endpointBySpec.get(w);
  if (hit !== undefined && hit.domainSuffix === domainSuffix) return hit.ep;
  const ep: RegistryEndpoint = Object.freeze({
    hostname: serviceHostname(w.service.name, w.namespace, domainSuffix),
    servicePortName: workloadPortName(w),
    servicePort: w.service.port,
    address: w.address,
    port: w.service.port,
    labels: Object.freeze({ ...w.labels }),
    serviceAccount: w.serviceAccount,
    workload: w.name,
    namespace: w.namespace,
    cluster: w.cluster,
    locality: Object.freeze({ region: w.labels[REGION_LABEL] ?? '', zone: w.labels[ZONE_LABEL] ?? '', subZone: w.labels[SUBZONE_LABEL] ?? '' }),
    sidecar: w.sidecar,
    health: 'healthy',
  });
  if (Object.isFrozen(w) && Object.isFrozen(w.labels) && Object.isFrozen(w.service)) endpointBySpec.set(w, { domainSuffix, ep });
  return ep;
}

/**
 * The services the workloads back, by hostname in order of first appearance. A port number two
 * workloads declare keeps the first workload's protocol. File workloads have no VIPs or service
 * labels.
 */
export function workloadServices(workloads: readonly WorkloadSpec[], domainSuffix: string): RegistryService[] {
  const byHost = new Map<string, { w: WorkloadSpec; ports: Map<number, RegistryServicePort> }>();
  for (const w of workloads) {
    const hostname = serviceHostname(w.service.name, w.namespace, domainSuffix);
    const s = byHost.get(hostname) ?? { w, ports: new Map<number, RegistryServicePort>() };
    if (!s.ports.has(w.service.port)) {
      s.ports.set(w.service.port, Object.freeze({ name: workloadPortName(w), port: w.service.port, protocol: w.service.protocol }));
    }
    byHost.set(hostname, s);
  }
  return [...byHost].map(([hostname, { w, ports }]) =>
    Object.freeze({
      hostname,
      name: w.service.name,
      namespace: w.namespace,
      cluster: w.cluster,
      ports: Object.freeze([...ports.values()].sort((a, b) => a.port - b.port)),
      labels: Object.freeze({}),
      addresses: Object.freeze([]),
    }),
  );
}

export interface WorkloadShardInput {
  registry: string;
  cluster: string;
  workloads: readonly WorkloadSpec[];
  domainSuffix: string;
  imported?: readonly ImportedEndpoint[];
  gatewayAddress?: string;
}

/** A frozen shard of `workloads` (the file registry's, and test fixtures'). */
export function workloadShard(input: WorkloadShardInput): RegistryShard {
  return Object.freeze({
    registry: input.registry,
    cluster: input.cluster,
    services: Object.freeze(workloadServices(input.workloads, input.domainSuffix)),
    endpoints: Object.freeze(input.workloads.map((w) => workloadEndpoint(w, input.domainSuffix))),
    imported: Object.freeze([...(input.imported ?? [])]),
    ...(input.gatewayAddress !== undefined ? { gatewayAddress: input.gatewayAddress } : {}),
  });
}
