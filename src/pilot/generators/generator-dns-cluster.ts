import type { Cluster, LocalityLbEndpoints } from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import { DEFAULT_DNS_REFRESH_MS, type DnsSettings } from '../model/snapshot.ts';
import { durationFromMs } from './generator-common.ts';

/**
 * Turns an outbound EDS cluster into a DNS-resolved one, as Istio writes ServiceEntry clusters with
 * resolution DNS (STRICT_DNS) and DNS_ROUND_ROBIN (LOGICAL_DNS, first endpoint only): the
 * endpoints travel inline in `load_assignment` with hostname socket addresses, re-resolved every
 * `dns_refresh_rate` (the mesh's DNS refresh rate) or by the answer's TTL (`respect_dns_ttl`),
 * IPv4 only. Mesh-wide resolvers go into `typed_dns_resolver_config` (c-ares); without them the
 * proxy's system resolver answers. Pure.
 */
export function dnsCluster(eds: Cluster, logical: boolean, endpoints: LocalityLbEndpoints[], dns: DnsSettings | undefined): Cluster {
  const { eds_cluster_config: _eds, ...rest } = eds;
  let localities = endpoints;
  if (logical) {
    const first = endpoints.find((l) => l.lb_endpoints.length > 0);
    const lb = first?.lb_endpoints[0];
    localities = first && lb ? [{ ...first, lb_endpoints: [lb], load_balancing_weight: lb.load_balancing_weight ?? { value: 1 } }] : [];
  }
  const c: Cluster = {
    ...rest,
    type: logical ? 'LOGICAL_DNS' : 'STRICT_DNS',
    load_assignment: { cluster_name: eds.name, endpoints: localities },
    dns_refresh_rate: durationFromMs(dns?.refreshRateMs ?? DEFAULT_DNS_REFRESH_MS),
    respect_dns_ttl: true,
    dns_lookup_family: 'V4_ONLY',
  };
  if (dns && dns.resolvers.length > 0) {
    c.typed_dns_resolver_config = {
      name: 'envoy.network.dns_resolver.cares',
      typed_config: {
        '@type': TYPED_CONFIG.caresDnsResolver,
        resolvers: dns.resolvers.map((r) => ({ socket_address: { address: r.host, port_value: r.port } })),
      },
    };
  }
  return c;
}
