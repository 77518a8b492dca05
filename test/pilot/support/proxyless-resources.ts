import type { Cluster, ClusterLoadAssignment, Listener, RouteConfiguration } from '../../../src/xds/resources.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../../src/xds/type-urls.ts';

/**
 * The minimal xDS a proxyless @grpc/grpc-js-xds client needs to reach `host:port`, built by hand:
 * a Listener named exactly `host:port` with an api_listener HCM (RDS over ADS, router last), a
 * RouteConfiguration matching any domain, an EDS Cluster over ADS, and a ClusterLoadAssignment whose
 * locality HAS a load_balancing_weight (without it grpc-js-xds drops the locality silently) and whose
 * endpoint is HEALTHY.
 */
export interface ProxylessResources {
  listener: Listener;
  route: RouteConfiguration;
  cluster: Cluster;
  endpoints: ClusterLoadAssignment;
}

export function proxylessResources(host: string, port: number, backends: { address: string; port: number }[]): ProxylessResources {
  const authority = `${host}:${port}`;
  const clusterName = `outbound|${port}||${host}`;
  const routeName = `${authority}-route`;
  return {
    listener: {
      '@type': TYPE_URL.listener,
      name: authority,
      api_listener: {
        api_listener: {
          '@type': TYPED_CONFIG.httpConnectionManager,
          stat_prefix: authority,
          rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } }],
        },
      },
    },
    route: {
      '@type': TYPE_URL.route,
      name: routeName,
      virtual_hosts: [{ name: authority, domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster: clusterName } }] }],
    },
    cluster: {
      '@type': TYPE_URL.cluster,
      name: clusterName,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: clusterName },
      lb_policy: 'ROUND_ROBIN',
      connect_timeout: { seconds: '1' },
    },
    endpoints: {
      '@type': TYPE_URL.endpoint,
      cluster_name: clusterName,
      endpoints: [
        {
          locality: { region: 'east', zone: 'z1' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: backends.map((b) => ({
            endpoint: { address: { socket_address: { address: b.address, port_value: b.port } } },
            health_status: 'HEALTHY' as const,
            load_balancing_weight: { value: 1 },
          })),
        },
      ],
    },
  };
}
