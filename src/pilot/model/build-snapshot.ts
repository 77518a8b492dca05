import { CLUSTER_LABEL } from '../../xds/naming.ts';
import type { ConfigObject, DestinationRuleConfig, VirtualServiceConfig } from '../config/config-types.ts';
import type { RegistryShard } from '../registry/registry-interface.ts';
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
  shards: readonly RegistryShard[];
  config: readonly ConfigObject[];
  version: string;
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
 * Builds the immutable model of one push from registry shards and configuration. Pure: no I/O,
 * clock or globals. Imported endpoints of this cluster itself (its own exports seen back through
 * federation) are ignored.
 */
export function buildSnapshot(input: SnapshotInput): Snapshot {
  const { cluster, domainSuffix } = input;
  const services = new Map<string, { hostname: string; name: string; namespace: string; ports: Map<number, ServicePort> }>();
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
      const ep: LocalEndpoint = Object.freeze({
        kind: 'local',
        hostname,
        port: w.service.port,
        registry: shard.registry,
        cluster: w.cluster,
        namespace: w.namespace,
        workload: w.name,
        serviceAccount: w.serviceAccount,
        labels: Object.freeze({ ...w.labels, [CLUSTER_LABEL]: w.cluster }),
        address: w.address,
        sidecar: w.sidecar,
      });
      addEndpoint(ep);
      const key = workloadKey(w.cluster, w.namespace, w.name);
      workloads.set(key, [...(workloads.get(key) ?? []), ep]);
    }
  }
  for (const shard of shards) {
    for (const e of shard.imported) {
      if (e.cluster === cluster) continue;
      addService(e.hostname, e.service, e.namespace, { port: e.port, protocol: 'http' });
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
        }),
      );
    }
  }

  const config = [...input.config].sort(
    (a, b) => cmp(a.kind, b.kind) || cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name),
  );
  const virtualServices = new Map<string, VirtualServiceConfig>();
  const destinationRules = new Map<string, DestinationRuleConfig>();
  const exported = new Set<string>();
  for (const o of config) {
    if (o.kind === 'VirtualService') {
      for (const h of o.spec.hosts) if (!virtualServices.has(h)) virtualServices.set(h, o);
    } else if (o.kind === 'DestinationRule') {
      if (!destinationRules.has(o.spec.host)) destinationRules.set(o.spec.host, o);
    } else {
      exported.add(o.hostname);
    }
  }

  const serviceModels = new Map<string, ServiceModel>();
  for (const [h, s] of services) {
    serviceModels.set(
      h,
      Object.freeze({
        hostname: s.hostname,
        name: s.name,
        namespace: s.namespace,
        ports: Object.freeze([...s.ports.values()].sort((a, b) => a.port - b.port).map((p) => Object.freeze(p))),
      }),
    );
  }
  const endpointLists = new Map<string, readonly EndpointModel[]>();
  for (const [h, list] of endpoints) endpointLists.set(h, Object.freeze(list.sort(endpointOrder)));
  const workloadLists = new Map<string, readonly LocalEndpoint[]>();
  for (const [k, list] of workloads) workloadLists.set(k, Object.freeze(list.sort(endpointOrder)));

  return Object.freeze({
    version: input.version,
    cluster,
    trustDomain: input.trustDomain,
    domainSuffix,
    ...(input.gatewayAddress !== undefined ? { gatewayAddress: input.gatewayAddress } : {}),
    services: sortedMap(serviceModels),
    endpoints: sortedMap(endpointLists),
    virtualServices: sortedMap(virtualServices),
    destinationRules: sortedMap(destinationRules),
    exported: new Set([...exported].sort()),
    workloads: sortedMap(workloadLists),
  });
}
