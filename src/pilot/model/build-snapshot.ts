import { CLUSTER_LABEL } from '../../xds/naming.ts';
import type { ConfigObject, DestinationRuleConfig, ExportTo, ServiceEntryConfig, SidecarConfig, VirtualServiceConfig } from '../config/config-types.ts';
import type { WorkloadSpec } from '../../common/workload.ts';
import type { RegistryShard } from '../registry/registry-interface.ts';
import { matchesLabels } from './snapshot-queries.ts';
import { shared } from './structural-sharing.ts';
import type { DnsSettings } from './snapshot.ts';
import {
  type EndpointModel,
  type LocalEndpoint,
  type ServiceModel,
  type ServicePort,
  type Snapshot,
  workloadKey,
} from './snapshot.ts';

export interface SnapshotInput {
  cluster: string;
  trustDomain: string;
  domainSuffix: string;
  gatewayAddress?: string;
  dns?: DnsSettings;
  shards: readonly RegistryShard[];
  config: readonly ConfigObject[];
  version: string;
  /**
   * The snapshot this one replaces: every service, endpoint list and workload list equal to its
   * counterpart there is that same object (structural-sharing.ts). Absent: all objects are new.
   */
  previous?: Snapshot;
}

const cmp = (a: string | number, b: string | number): number => (a < b ? -1 : a > b ? 1 : 0);

function endpointOrder(a: EndpointModel, b: EndpointModel): number {
  return (
    cmp(a.port, b.port) ||
    cmp(a.cluster, b.cluster) ||
    cmp(a.kind, b.kind) ||
    cmp(a.namespace, b.namespace) ||
    cmp(a.workload, b.workload) ||
    cmp(a.kind === 'local' ? a.address : a.gateway.address, b.kind === 'local' ? b.address : b.gateway.address) ||
    cmp(a.registry, b.registry)
  );
}

function sortedMap<V>(m: Map<string, V>): ReadonlyMap<string, V> {
  return new Map([...m.entries()].sort(([a], [b]) => cmp(a, b)));
}

/**
 * The endpoint of a registry workload, one object per (WorkloadSpec object, registry, hostname): a
 * registry that keeps unchanged workloads' objects (registry-file.ts) gets the same endpoint
 * objects back, so structural sharing compares them by identity. A WorkloadSpec is frozen, so the
 * endpoint, made of it alone, never goes stale.
 */
const endpointByWorkload = new WeakMap<WorkloadSpec, { registry: string; hostname: string; ep: LocalEndpoint }>();

function localEndpoint(registry: string, hostname: string, w: WorkloadSpec): LocalEndpoint {
  const hit = endpointByWorkload.get(w);
  if (hit !== undefined && hit.registry === registry && hit.hostname === hostname) return hit.ep;
  const ep: LocalEndpoint = Object.freeze({
    kind: 'local',
    hostname,
    port: w.service.port,
    registry,
    cluster: w.cluster,
    namespace: w.namespace,
    workload: w.name,
    serviceAccount: w.serviceAccount,
    labels: Object.freeze({ ...w.labels, [CLUSTER_LABEL]: w.cluster }),
    address: w.address,
    sidecar: w.sidecar,
  });
  if (Object.isFrozen(w) && Object.isFrozen(w.labels) && Object.isFrozen(w.service)) endpointByWorkload.set(w, { registry, hostname, ep });
  return ep;
}

/**
 * Builds the immutable model of one push from registry shards and configuration. Pure: no I/O,
 * clock or globals. Imported endpoints of this cluster itself (its own exports seen back through
 * federation) are ignored. ServiceEntry hosts become services after the registries' (a host a
 * registry serves keeps its registry service), in namespace/name order (the first entry naming a
 * host owns it).
 */
export function buildSnapshot(input: SnapshotInput): Snapshot {
  const { cluster, domainSuffix } = input;
  const services = new Map<
    string,
    { hostname: string; name: string; namespace: string; ports: Map<number, ServicePort>; exportTo?: ExportTo; resolution?: 'DNS' | 'DNS_ROUND_ROBIN' }
  >();
  const endpoints = new Map<string, EndpointModel[]>();
  const workloads = new Map<string, LocalEndpoint[]>();

  const addService = (hostname: string, name: string, namespace: string, port: ServicePort): void => {
    let s = services.get(hostname);
    if (!s) {
      s = { hostname, name, namespace, ports: new Map() };
      services.set(hostname, s);
    }
    if (!s.ports.has(port.port)) s.ports.set(port.port, port);
  };
  const addEndpoint = (ep: EndpointModel): void => {
    const list = endpoints.get(ep.hostname) ?? [];
    list.push(ep);
    endpoints.set(ep.hostname, list);
  };

  const shards = [...input.shards].sort((a, b) => cmp(a.registry, b.registry) || cmp(a.cluster, b.cluster));
  // Local workloads first, so that their declared protocols win over the imported default.
  for (const shard of shards) {
    for (const w of shard.workloads) {
      const hostname = `${w.service.name}.${w.namespace}.svc.${domainSuffix}`;
      addService(hostname, w.service.name, w.namespace, { port: w.service.port, protocol: w.service.protocol });
      const ep = localEndpoint(shard.registry, hostname, w);
      addEndpoint(ep);
      const key = workloadKey(w.cluster, w.namespace, w.name);
      const own = workloads.get(key);
      if (own) own.push(ep);
      else workloads.set(key, [ep]);
    }
  }
  for (const shard of shards) {
    for (const e of shard.imported) {
      if (e.cluster === cluster) continue;
      addService(e.hostname, e.service, e.namespace, { port: e.port, protocol: e.protocol ?? 'http' });
      addEndpoint(
        Object.freeze({
          kind: 'remote',
          hostname: e.hostname,
          port: e.port,
          registry: shard.registry,
          cluster: e.cluster,
          namespace: e.namespace,
          workload: e.workload,
          serviceAccount: e.serviceAccount,
          labels: Object.freeze({ ...e.labels, [CLUSTER_LABEL]: e.cluster }),
          gateway: Object.freeze({ address: e.gateway.address, port: e.gateway.port }),
          ...(e.endpointId !== undefined ? { endpointId: e.endpointId } : {}),
        }),
      );
    }
  }

  const config = [...input.config].sort(
    (a, b) => cmp(a.kind, b.kind) || cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name),
  );
  const localWorkloads = shards.flatMap((shard) => shard.workloads.filter((w) => w.cluster === cluster).map((w) => ({ registry: shard.registry, w })));
  for (const o of config) {
    if (o.kind !== 'ServiceEntry') continue;
    for (const host of o.spec.hosts) {
      // A host a registry already serves, or an earlier entry (by namespace/name) owns, is left as it is.
      if (services.has(host)) continue;
      services.set(host, {
        hostname: host,
        name: host,
        namespace: o.metadata.namespace,
        ports: new Map(o.spec.ports.map((p) => [p.number, { port: p.number, protocol: p.protocol }])),
        exportTo: o.spec.exportTo,
        ...(o.spec.resolution !== 'STATIC' ? { resolution: o.spec.resolution } : {}),
      });
      for (const ep of serviceEntryEndpoints(o, host, cluster, localWorkloads)) addEndpoint(ep);
    }
  }
  const virtualServices = new Map<string, VirtualServiceConfig>();
  const destinationRules = new Map<string, DestinationRuleConfig>();
  const exported = new Set<string>();
  for (const o of config) {
    if (o.kind === 'VirtualService') {
      for (const h of o.spec.hosts) if (!virtualServices.has(h)) virtualServices.set(h, o);
    } else if (o.kind === 'DestinationRule') {
      if (!destinationRules.has(o.spec.host)) destinationRules.set(o.spec.host, o);
    } else if (o.kind === 'ServiceExport') {
      exported.add(o.hostname);
    }
  }

  const previous = input.previous;
  const serviceModels = new Map<string, ServiceModel>();
  for (const [h, s] of services) {
    serviceModels.set(
      h,
      shared(previous?.services, h, Object.freeze({
        hostname: s.hostname,
        name: s.name,
        namespace: s.namespace,
        ports: Object.freeze([...s.ports.values()].sort((a, b) => a.port - b.port).map((p) => Object.freeze(p))),
        ...(s.exportTo !== undefined ? { exportTo: s.exportTo } : {}),
        ...(s.resolution !== undefined ? { resolution: s.resolution } : {}),
      })),
    );
  }
  const endpointLists = new Map<string, readonly EndpointModel[]>();
  for (const [h, list] of endpoints) endpointLists.set(h, shared(previous?.endpoints, h, Object.freeze(list.sort(endpointOrder))));
  const workloadLists = new Map<string, readonly LocalEndpoint[]>();
  for (const [k, list] of workloads) workloadLists.set(k, shared(previous?.workloads, k, Object.freeze(list.sort(endpointOrder))));

  return Object.freeze({
    version: input.version,
    cluster,
    trustDomain: input.trustDomain,
    domainSuffix,
    ...(input.gatewayAddress !== undefined ? { gatewayAddress: input.gatewayAddress } : {}),
    ...(input.dns !== undefined ? { dns: input.dns } : {}),
    services: sortedMap(serviceModels),
    endpoints: sortedMap(endpointLists),
    virtualServices: sortedMap(virtualServices),
    destinationRules: sortedMap(destinationRules),
    allVirtualServices: Object.freeze(config.filter((o): o is VirtualServiceConfig => o.kind === 'VirtualService')),
    allDestinationRules: Object.freeze(config.filter((o): o is DestinationRuleConfig => o.kind === 'DestinationRule')),
    sidecars: Object.freeze(config.filter((o): o is SidecarConfig => o.kind === 'Sidecar')),
    exported: new Set([...exported].sort()),
    workloads: sortedMap(workloadLists),
  });
}

/**
 * The endpoints of one ServiceEntry host, one per (endpoint, port): STATIC endpoints at their
 * address (target port: the endpoint's `ports[name]`, else the port's `targetPort`, else its
 * number), or, with a `workloadSelector`, this cluster's workloads of the entry's namespace whose
 * labels match (dialled at the target port, through their sidecar when they have one).
 * MESH_EXTERNAL endpoints never have a sidecar: they are dialled in plaintext (or with the TLS a
 * DestinationRule originates). With DNS resolution and no endpoints, each host is its own endpoint.
 */
function serviceEntryEndpoints(
  o: ServiceEntryConfig,
  hostname: string,
  cluster: string,
  local: readonly { registry: string; w: WorkloadSpec }[],
): LocalEndpoint[] {
  const out: LocalEndpoint[] = [];
  const base = { kind: 'local' as const, hostname, cluster, namespace: o.metadata.namespace };
  for (const p of o.spec.ports) {
    const target = p.targetPort ?? p.number;
    if (o.spec.workloadSelector) {
      const selector = o.spec.workloadSelector.labels;
      for (const { registry, w } of local) {
        if (w.namespace !== o.metadata.namespace || !matchesLabels(selector, w.labels)) continue;
        out.push(
          Object.freeze({
            ...base,
            port: p.number,
            registry,
            workload: w.name,
            serviceAccount: w.serviceAccount,
            labels: Object.freeze({ ...w.labels, [CLUSTER_LABEL]: cluster }),
            address: w.address,
            sidecar: w.sidecar,
            ...(target !== p.number ? { targetPort: target } : {}),
          }),
        );
      }
      continue;
    }
    // Resolution DNS / DNS_ROUND_ROBIN without endpoints: the host itself is the name resolved.
    const dnsHost = o.spec.endpoints.length === 0 && o.spec.resolution !== 'STATIC';
    for (const e of dnsHost ? [{ address: hostname, ports: {} as Readonly<Record<string, number>>, labels: {}, weight: 1 }] : o.spec.endpoints) {
      const port = e.ports[p.name] ?? target;
      out.push(
        Object.freeze({
          ...base,
          port: p.number,
          registry: 'serviceentry',
          workload: o.metadata.name,
          serviceAccount: '',
          labels: Object.freeze({ ...e.labels, [CLUSTER_LABEL]: cluster }),
          address: e.address,
          sidecar: false,
          ...(port !== p.number ? { targetPort: port } : {}),
          ...(e.weight !== 1 ? { weight: e.weight } : {}),
        }),
      );
    }
  }
  return out;
}
