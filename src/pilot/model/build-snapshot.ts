import { DEFAULT_MESH_CONFIG, type MeshConfig } from '../config/mesh-config.ts';
import { CLUSTER_LABEL } from '../../xds/naming.ts';
import type {
  AuthorizationPolicyConfig,
  ConfigObject,
  DestinationRuleConfig,
  ExportTo,
  PeerAuthenticationConfig,
  RequestAuthenticationConfig,
  ServiceEntryConfig,
  SidecarConfig,
  VirtualServiceConfig,
} from '../config/config-types.ts';
import type { RegistryShard } from '../registry/registry-interface.ts';
import type { RegistryEndpoint } from '../registry/registry-types.ts';
import { REGION_LABEL, SUBZONE_LABEL, ZONE_LABEL } from './locality.ts';
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
  /** Absent: Istio's defaults (DEFAULT_MESH_CONFIG). */
  mesh?: MeshConfig;
  /** Fetched key sets by jwksUri (Snapshot.jwks); absent: none fetched yet. */
  jwks?: ReadonlyMap<string, string | undefined>;
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

const NO_JWKS: ReadonlyMap<string, string | undefined> = new Map();

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
 * The model endpoint of a registry endpoint, one object per (RegistryEndpoint object, registry): a
 * registry that keeps unchanged endpoints' objects (registry-file.ts through
 * workload-conversion.ts) gets the same model endpoints back, so structural sharing compares them
 * by identity. A RegistryEndpoint is frozen, so the model endpoint, made of it alone, never goes
 * stale. Its labels are the workload's plus its cluster and locality (Istio's `AugmentLabels`), so
 * subsets and locality rules read them.
 */
const endpointByRegistryEndpoint = new WeakMap<RegistryEndpoint, { registry: string; ep: LocalEndpoint }>();

function localEndpoint(registry: string, e: RegistryEndpoint): LocalEndpoint {
  const hit = endpointByRegistryEndpoint.get(e);
  if (hit !== undefined && hit.registry === registry) return hit.ep;
  const { region, zone, subZone } = e.locality;
  const ep: LocalEndpoint = Object.freeze({
    kind: 'local',
    hostname: e.hostname,
    port: e.servicePort,
    registry,
    cluster: e.cluster,
    namespace: e.namespace,
    workload: e.workload,
    serviceAccount: e.serviceAccount,
    labels: Object.freeze({
      ...e.labels,
      [CLUSTER_LABEL]: e.cluster,
      ...(region !== '' ? { [REGION_LABEL]: region } : {}),
      ...(zone !== '' ? { [ZONE_LABEL]: zone } : {}),
      ...(subZone !== '' ? { [SUBZONE_LABEL]: subZone } : {}),
    }),
    address: e.address,
    sidecar: e.sidecar,
    ...(e.port !== e.servicePort ? { targetPort: e.port } : {}),
  });
  if (Object.isFrozen(e) && Object.isFrozen(e.labels) && Object.isFrozen(e.locality)) endpointByRegistryEndpoint.set(e, { registry, ep });
  return ep;
}

/** A workload of this cluster as a ServiceEntry's `workloadSelector` sees it. */
interface SelectableWorkload {
  readonly registry: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly address: string;
  readonly sidecar: boolean;
}

/** The snapshot parts made of the registries' shards (and ServiceEntries): sorted and frozen. */
interface ServiceMaps {
  readonly services: ReadonlyMap<string, ServiceModel>;
  readonly endpoints: ReadonlyMap<string, readonly EndpointModel[]>;
  readonly workloads: ReadonlyMap<string, readonly LocalEndpoint[]>;
}

/**
 * The (sorted) shards each snapshot's services, endpoints and workloads were made of, for the
 * snapshots whose configuration has no ServiceEntry (their maps are the shards' alone).
 */
const registryOnly = new WeakMap<Snapshot, { readonly cluster: string; readonly shards: readonly RegistryShard[] }>();

/**
 * The previous snapshot's service, endpoint and workload maps, when this snapshot would rebuild
 * them equal: the same registry shard objects (shards are immutable and replaced whole), the same
 * cluster, and no ServiceEntry in either configuration. A config change then costs no pass over
 * the registries' endpoints.
 */
function reusableMaps(input: SnapshotInput, shards: readonly RegistryShard[], config: readonly ConfigObject[]): ServiceMaps | undefined {
  const previous = input.previous;
  if (previous === undefined || config.some((o) => o.kind === 'ServiceEntry')) return undefined;
  const built = registryOnly.get(previous);
  if (built === undefined || built.cluster !== input.cluster || built.shards.length !== shards.length) return undefined;
  if (!built.shards.every((s, i) => s === shards[i])) return undefined;
  return { services: previous.services, endpoints: previous.endpoints, workloads: previous.workloads };
}

/**
 * Builds the immutable model of one push from registry shards and configuration. Pure: no I/O,
 * clock or globals (the memo of reusableMaps only tells it when to reuse the previous snapshot's
 * equal maps). Imported endpoints of this cluster itself (its own exports seen back through
 * federation) are ignored. ServiceEntry hosts become services after the registries' (a host a
 * registry serves keeps its registry service), in namespace/name order (the first entry naming a
 * host owns it).
 */
export function buildSnapshot(input: SnapshotInput): Snapshot {
  const { cluster, domainSuffix } = input;
  const shards = [...input.shards].sort((a, b) => cmp(a.registry, b.registry) || cmp(a.cluster, b.cluster));
  const config = [...input.config].sort(
    (a, b) => cmp(a.kind, b.kind) || cmp(a.metadata.namespace, b.metadata.namespace) || cmp(a.metadata.name, b.metadata.name),
  );
  const maps = reusableMaps(input, shards, config) ?? serviceMaps(input, shards, config);
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

  const snap: Snapshot = Object.freeze({
    version: input.version,
    cluster,
    trustDomain: input.trustDomain,
    mesh: input.mesh ?? DEFAULT_MESH_CONFIG,
    domainSuffix,
    ...(input.gatewayAddress !== undefined ? { gatewayAddress: input.gatewayAddress } : {}),
    ...(input.dns !== undefined ? { dns: input.dns } : {}),
    services: maps.services,
    endpoints: maps.endpoints,
    virtualServices: sortedMap(virtualServices),
    destinationRules: sortedMap(destinationRules),
    allVirtualServices: Object.freeze(config.filter((o): o is VirtualServiceConfig => o.kind === 'VirtualService')),
    allDestinationRules: Object.freeze(config.filter((o): o is DestinationRuleConfig => o.kind === 'DestinationRule')),
    sidecars: Object.freeze(config.filter((o): o is SidecarConfig => o.kind === 'Sidecar')),
    authorizationPolicies: Object.freeze(config.filter((o): o is AuthorizationPolicyConfig => o.kind === 'AuthorizationPolicy')),
    peerAuthentications: Object.freeze(config.filter((o): o is PeerAuthenticationConfig => o.kind === 'PeerAuthentication')),
    requestAuthentications: Object.freeze(config.filter((o): o is RequestAuthenticationConfig => o.kind === 'RequestAuthentication')),
    jwks: input.jwks ?? NO_JWKS,
    exported: new Set([...exported].sort()),
    workloads: maps.workloads,
  });
  if (!config.some((o) => o.kind === 'ServiceEntry')) registryOnly.set(snap, { cluster, shards });
  return snap;
}

/** Services, endpoints and workloads of the shards and the ServiceEntries, shared with `previous` where equal. */
function serviceMaps(input: SnapshotInput, shards: readonly RegistryShard[], config: readonly ConfigObject[]): ServiceMaps {
  const { cluster } = input;
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

  // Local services first, so that their declared protocols win over the imported default.
  // Endpoints that are not healthy (EndpointSlice not ready, or terminating) stay out of the
  // service's endpoints, as Istio leaves them out of EDS by default (PILOT_SEND_UNHEALTHY_ENDPOINTS
  // off; draining endpoints only for persistent sessions, which meshfed does not have); they stay
  // in their workload's own index, so a starting or stopping proxy keeps its inbound listeners.
  for (const shard of shards) {
    for (const svc of shard.services) {
      for (const p of svc.ports) addService(svc.hostname, svc.name, svc.namespace, { port: p.port, protocol: p.protocol });
    }
    for (const e of shard.endpoints) {
      const ep = localEndpoint(shard.registry, e);
      if (e.health === 'healthy') addEndpoint(ep);
      const key = workloadKey(e.cluster, e.namespace, e.workload);
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

  // Only workload selectors read the selectable workloads: a pass over every endpoint, made only then.
  let localWorkloads: readonly SelectableWorkload[] | undefined;
  for (const o of config) {
    if (o.kind !== 'ServiceEntry') continue;
    if (o.spec.workloadSelector) localWorkloads ??= selectableWorkloads(shards, cluster);
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
      for (const ep of serviceEntryEndpoints(o, host, cluster, localWorkloads ?? [])) addEndpoint(ep);
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

  return { services: sortedMap(serviceModels), endpoints: sortedMap(endpointLists), workloads: sortedMap(workloadLists) };
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
  local: readonly SelectableWorkload[],
): LocalEndpoint[] {
  const out: LocalEndpoint[] = [];
  const base = { kind: 'local' as const, hostname, cluster, namespace: o.metadata.namespace };
  for (const p of o.spec.ports) {
    const target = p.targetPort ?? p.number;
    if (o.spec.workloadSelector) {
      const selector = o.spec.workloadSelector.labels;
      for (const w of local) {
        if (w.namespace !== o.metadata.namespace || !matchesLabels(selector, w.labels)) continue;
        out.push(
          Object.freeze({
            ...base,
            port: p.number,
            registry: w.registry,
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

/**
 * This cluster's healthy workloads, one per (registry, namespace, name, address) in shard order,
 * for ServiceEntry workload selectors. Labels are the workload's own.
 */
function selectableWorkloads(shards: readonly RegistryShard[], cluster: string): SelectableWorkload[] {
  const out = new Map<string, SelectableWorkload>();
  for (const shard of shards) {
    for (const e of shard.endpoints) {
      if (e.cluster !== cluster || e.health !== 'healthy') continue;
      const key = `${shard.registry}/${e.namespace}/${e.workload}/${e.address}`;
      if (out.has(key)) continue;
      out.set(key, {
        registry: shard.registry,
        name: e.workload,
        namespace: e.namespace,
        serviceAccount: e.serviceAccount,
        labels: e.labels,
        address: e.address,
        sidecar: e.sidecar,
      });
    }
  }
  return [...out.values()];
}
