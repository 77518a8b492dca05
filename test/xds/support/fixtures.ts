import type { PushRequest } from '../../../src/pilot/ads/index.ts';
import type { ProxyNode } from '../../../src/xds/node.ts';
import type {
  Cluster,
  ClusterLoadAssignment,
  Listener,
  RouteConfiguration,
  XdsResource,
  XdsResourceBody,
} from '../../../src/xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG, type XdsTypeUrl } from '../../../src/xds/type-urls.ts';

/** Builders of small, valid Envoy resources (typed with resources.ts) for ADS tests. */

export function edsCluster(name: string, serviceName?: string): Cluster {
  return {
    '@type': TYPE_URL.cluster,
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {} }, ...(serviceName ? { service_name: serviceName } : {}) },
    connect_timeout: { seconds: '1' },
  };
}

export function loadAssignment(clusterName: string, endpoints: [string, number][]): ClusterLoadAssignment {
  return {
    '@type': TYPE_URL.endpoint,
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: 'r1' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: endpoints.map(([address, port]) => ({
          endpoint: { address: { socket_address: { address, port_value: port } } },
          health_status: 'HEALTHY' as const,
        })),
      },
    ],
  };
}

export function httpListener(name: string, port: number, routeName: string): Listener {
  return {
    '@type': TYPE_URL.listener,
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    traffic_direction: 'OUTBOUND',
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': TYPED_CONFIG.httpConnectionManager,
              stat_prefix: name,
              rds: { route_config_name: routeName, config_source: { ads: {} } },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
            },
          },
        ],
      },
    ],
  };
}

export function routeConfig(name: string, cluster: string, domains: string[] = ['*']): RouteConfiguration {
  return {
    '@type': TYPE_URL.route,
    name,
    virtual_hosts: [{ name: `${name}-vh`, domains, routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  };
}

function nameOf(r: XdsResourceBody): string {
  return 'cluster_name' in r ? r.cluster_name : r.name;
}

/** An immutable state of a TestGenerator: what every type holds, under one version. */
export interface TestSnapshot {
  readonly version: string;
  readonly state: ReadonlyMap<XdsTypeUrl, readonly XdsResource[]>;
}

/**
 * A controllable generator: tests set the resources of each type, then push `gen.push(reason)`
 * (a snapshot of everything set so far) to `AdsServer.push`. `generate` reads only the snapshot
 * it is given, as Pilot's generators do.
 */
export class TestGenerator {
  private readonly state = new Map<XdsTypeUrl, XdsResource[]>();
  private current: TestSnapshot | undefined;
  private seq = 0;
  /** Every (node, type, snapshot version) the server asked for, in order. */
  readonly calls: { node: ProxyNode; typeUrl: XdsTypeUrl; version: string }[] = [];

  set(typeUrl: XdsTypeUrl, bodies: XdsResourceBody[]): void {
    this.state.set(
      typeUrl,
      bodies.map((resource) => ({ name: nameOf(resource), resource })),
    );
    this.current = undefined;
  }

  /** The state as set so far; the same object until the next `set`. */
  snapshot(): TestSnapshot {
    this.current ??= Object.freeze({ version: `v${++this.seq}`, state: new Map(this.state) });
    return this.current;
  }

  /** A full push of `snapshot()`. */
  push(reason: string, more: Partial<PushRequest<TestSnapshot>> = {}): PushRequest<TestSnapshot> {
    return { snapshot: this.snapshot(), scope: 'full', reason, changedAt: Date.now(), ...more };
  }

  readonly generate = (node: ProxyNode, typeUrl: XdsTypeUrl, snap: TestSnapshot): XdsResource[] => {
    this.calls.push({ node, typeUrl, version: snap.version });
    return [...(snap.state.get(typeUrl) ?? [])];
  };
}

/** A complete little mesh: one EDS cluster `c1` (service `svc1`), listener `l1` → route `r1`. */
export function basicMesh(gen: TestGenerator, port = 15001, endpointPort = 8080): void {
  gen.set(TYPE_URL.cluster, [edsCluster('c1', 'svc1'), edsCluster('c2')]);
  gen.set(TYPE_URL.endpoint, [loadAssignment('svc1', [['127.0.0.2', endpointPort]]), loadAssignment('c2', [['127.0.0.3', 9090]])]);
  gen.set(TYPE_URL.listener, [httpListener('l1', port, 'r1')]);
  gen.set(TYPE_URL.route, [routeConfig('r1', 'c1')]);
}
