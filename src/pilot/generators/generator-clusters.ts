import { BLACKHOLE_CLUSTER, inboundClusterName, PASSTHROUGH_CLUSTER } from '../../xds/naming.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { Cluster, XdsResource } from '../../xds/resources.ts';
import { TYPE_URL } from '../../xds/type-urls.ts';
import type { DestinationRuleConfig } from '../config/config-types.ts';
import type { ServiceModel, Snapshot } from '../model/snapshot.ts';
import { hasMeshEndpoints, ownEndpoints, serviceSpiffeIds } from '../model/snapshot-queries.ts';
import { upstreamTransportSocket } from './generator-cluster-tls.ts';
import { dnsCluster } from './generator-dns-cluster.ts';
import { isDnsResolved, sidecarLocalities } from './generator-endpoints.ts';
import { ADS, CONNECT_TIMEOUT, gatewaySnis, metadata, type OutboundClusterKey, outboundClusters, serviceClusterKeys } from './generator-common.ts';
import { applyProxylessTrafficPolicy } from './generator-proxyless-policy.ts';
import { applyTrafficPolicy, trafficPolicyFor } from './generator-traffic-policy.ts';
import { portSpeaksHttp2, useHttp2Upstream } from './generator-upstream-protocol.ts';

function edsCluster(name: string, lbPolicy: Cluster['lb_policy']): Cluster {
  return {
    '@type': TYPE_URL.cluster,
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, service_name: name },
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: lbPolicy ?? 'ROUND_ROBIN',
  };
}

/** An EDS cluster with the DestinationRule traffic policy of its host, port and subset applied. */
function policyCluster(snap: Snapshot, key: OutboundClusterKey): Cluster {
  const c = edsCluster(key.name, 'ROUND_ROBIN');
  applyTrafficPolicy(c, trafficPolicyFor(snap, key.hostname, key.port, key.subset));
  return c;
}

/** A proxyless client's EDS cluster: the DestinationRule policy as far as grpc-js-xds honours it. */
function proxylessCluster(snap: Snapshot, key: OutboundClusterKey): Cluster {
  const c = edsCluster(key.name, 'ROUND_ROBIN');
  applyProxylessTrafficPolicy(c, trafficPolicyFor(snap, key.hostname, key.port, key.subset));
  return c;
}

/**
 * A sidecar's outbound clusters: the same for every sidecar of the cluster (generate.ts shares
 * them), except DNS-resolved ones, whose inline endpoints follow the proxy's locality plan.
 * Each service's clusters come from `serviceSidecarClusters`, memoised across snapshots.
 */
export function sidecarOutboundClusters(snap: Snapshot): Cluster[] {
  const out: Cluster[] = [];
  for (const service of snap.services.values()) {
    if (service.resolution !== undefined) continue;
    out.push(...serviceSidecarClusters(snap, service));
  }
  return out;
}

/** One memo entry: the inputs besides the service object, and the clusters made of them. */
interface ServiceClustersEntry {
  readonly destinationRule: DestinationRuleConfig | undefined;
  readonly mesh: boolean;
  /** The service's SPIFFE IDs (serviceSpiffeIds), joined: the server SAN matchers of its mesh clusters. */
  readonly spiffeIds: string;
  readonly clusters: readonly Cluster[];
}

/** Entries kept per service object (one per distinct DestinationRule and mesh-endpoint state seen). */
const MEMO_ENTRIES_PER_SERVICE = 4;

/**
 * Sidecar outbound clusters of one EDS service (every port, default then subsets), memoised across
 * snapshots by the identity of every input `sidecarCluster` reads for them: the service object
 * (hostname, ports, protocols), the DestinationRule the (view of the) snapshot holds for its host
 * (subsets, merged traffic policy, tls), whether the service has mesh endpoints (auto mTLS), and
 * the SPIFFE IDs its endpoints run as (the server SANs of its mesh clusters).
 * buildSnapshot keeps unchanged service objects and the config stores keep unchanged config
 * objects, so a change regenerates only the clusters of the hosts it touches; the push server,
 * which encodes per resource object, re-encodes only those. The returned clusters are shared by
 * every snapshot that hits the entry: callers never mutate them. Entries go with their service.
 */
const serviceClustersMemo = new WeakMap<ServiceModel, ServiceClustersEntry[]>();

export function serviceSidecarClusters(snap: Snapshot, service: ServiceModel): readonly Cluster[] {
  const destinationRule = snap.destinationRules.get(service.hostname);
  const mesh = hasMeshEndpoints(snap, service.hostname);
  let entries = serviceClustersMemo.get(service);
  const ids = mesh ? serviceSpiffeIds(snap, service.hostname) : [];
  const spiffeIds = ids.join(' ');
  const hit = entries?.find((e) => e.destinationRule === destinationRule && e.mesh === mesh && e.spiffeIds === spiffeIds);
  if (hit) return hit.clusters;
  const clusters = Object.freeze(serviceClusterKeys(snap, service).map((key) => sidecarCluster(snap, key, ids)));
  if (!entries) {
    entries = [];
    serviceClustersMemo.set(service, entries);
  }
  if (entries.length >= MEMO_ENTRIES_PER_SERVICE) entries.shift();
  entries.push({ destinationRule, mesh, spiffeIds, clusters });
  return clusters;
}

function sidecarCluster(snap: Snapshot, key: OutboundClusterKey, spiffeIds: readonly string[] = serviceSpiffeIds(snap, key.hostname)): Cluster {
  const c = policyCluster(snap, key);
  const socket = upstreamTransportSocket(snap, key, trafficPolicyFor(snap, key.hostname, key.port, key.subset).tls, spiffeIds);
  if (socket) c.transport_socket = socket;
  if (portSpeaksHttp2(snap, key.hostname, key.port)) useHttp2Upstream(c);
  return c;
}

/** A sidecar's DNS-resolved outbound clusters (ServiceEntry resolution DNS / DNS_ROUND_ROBIN). */
export function sidecarDnsClusters(proxy: ProxyNode, snap: Snapshot): Cluster[] {
  const out: Cluster[] = [];
  for (const service of snap.services.values()) {
    if (service.resolution === undefined) continue;
    const logical = service.resolution === 'DNS_ROUND_ROBIN';
    for (const key of serviceClusterKeys(snap, service)) out.push(dnsCluster(sidecarCluster(snap, key), logical, sidecarLocalities(proxy, snap, key), snap.dns));
  }
  return out;
}

/** A sidecar's own `inbound|<port>||` clusters, one per port its workload serves. */
export function sidecarInboundClusters(proxy: ProxyNode, snap: Snapshot): Cluster[] {
  const out: Cluster[] = [];
  const seen = new Set<number>();
  for (const ep of ownEndpoints(snap, proxy)) {
    if (seen.has(ep.port)) continue;
    seen.add(ep.port);
    const name = inboundClusterName(ep.port);
    const c: Cluster = {
      '@type': TYPE_URL.cluster,
      name,
      type: 'STATIC',
      connect_timeout: CONNECT_TIMEOUT,
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: name,
        endpoints: [
          {
            locality: { zone: ep.cluster },
            lb_endpoints: [
              {
                endpoint: { address: { socket_address: { address: ep.address, port_value: ep.targetPort ?? ep.port } } },
                health_status: 'HEALTHY',
                load_balancing_weight: { value: 1 },
              },
            ],
            load_balancing_weight: { value: 1 },
          },
        ],
      },
    };
    // The service this port serves, for the destination's telemetry of plaintext TCP (no SNI names it).
    c.metadata = metadata({ meshfed: { service: ep.hostname } });
    if (portSpeaksHttp2(snap, ep.hostname, ep.port)) useHttp2Upstream(c);
    out.push(c);
  }
  return out;
}

/**
 * A capture proxy's clusters for destinations the mesh does not know, as Istio names them:
 * `PassthroughCluster` (ORIGINAL_DST, CLUSTER_PROVIDED: the connection's original destination) and
 * `BlackHoleCluster` (STATIC without endpoints). One frozen pair for every push.
 */
const CAPTURE_CLUSTERS: readonly Cluster[] = Object.freeze([
  Object.freeze<Cluster>({ '@type': TYPE_URL.cluster, name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: CONNECT_TIMEOUT }),
  Object.freeze<Cluster>({ '@type': TYPE_URL.cluster, name: BLACKHOLE_CLUSTER, type: 'STATIC', connect_timeout: CONNECT_TIMEOUT, load_assignment: { cluster_name: BLACKHOLE_CLUSTER, endpoints: [] } }),
]);

/** PassthroughCluster and BlackHoleCluster for a capture proxy (`INTERCEPTION_MODE: REDIRECT`), else none. */
export function sidecarCaptureClusters(proxy: ProxyNode): readonly Cluster[] {
  return proxy.interceptionMode === 'REDIRECT' ? CAPTURE_CLUSTERS : [];
}

/**
 * CDS for one proxy.
 * - sidecar: every outbound cluster (`outbound|<port>|<subset>|<host>`, EDS over ADS, or STRICT_DNS /
 *   LOGICAL_DNS with inline hostname endpoints for DNS-resolved ServiceEntries; upstream TLS from
 *   the DestinationRule's `tls`, see generator-cluster-tls.ts) and its own `inbound|<port>||` clusters;
 *   both speak HTTP/2 upstream (`typed_extension_protocol_options`) when the port is http2 or grpc.
 * - sidecar with capture (`INTERCEPTION_MODE: REDIRECT`): also `PassthroughCluster` and `BlackHoleCluster`.
 * - router: one plaintext (passthrough) EDS cluster per exported SNI, named by the SNI: per service
 *   SNI, and per endpoint-qualified SNI (one endpoint each; see `gatewaySnis`).
 * - sidecar and router clusters carry the DestinationRule traffic policy of their host, port and
 *   subset (load balancer, connection pool, outlier detection; see generator-traffic-policy.ts).
 * - proxyless: the outbound clusters without TLS and without DNS-resolved ones (grpc-js-xds
 *   resolves names only in aggregate clusters), with the parts of the traffic policy that
 *   @grpc/grpc-js-xds honours (ring hash, max_requests, outlier detection as failure percentage;
 *   generator-proxyless-policy.ts). What it cannot honour is reported by proxylessFindings.
 */
export function generateClusters(proxy: ProxyNode, snap: Snapshot): XdsResource[] {
  let clusters: Cluster[];
  switch (proxy.type) {
    case 'sidecar':
      clusters = [...sidecarOutboundClusters(snap), ...sidecarDnsClusters(proxy, snap), ...sidecarInboundClusters(proxy, snap), ...sidecarCaptureClusters(proxy)];
      break;
    case 'router':
      clusters = gatewaySnis(snap).map((k) => policyCluster(snap, k));
      break;
    case 'proxyless':
      clusters = outboundClusters(snap)
        .filter((k) => !isDnsResolved(snap, k.hostname))
        .map((k) => proxylessCluster(snap, k));
      break;
  }
  return clusters.map((resource) => ({ name: resource.name, resource }));
}

