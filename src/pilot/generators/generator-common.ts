import type { MeshPathNormalization } from '../config/mesh-config.ts';
import type { ServiceProtocol } from '../../common/service-protocol.ts';
import type {
  AdsConfigSource,
  CommonTlsContext,
  Duration,
  HttpConnectionManager,
  HttpFilter,
  Metadata,
  RouterFilter,
} from '../../xds/resources.ts';
import { endpointIdOf, endpointSniFor, SECRET, outboundClusterName, sniFor } from '../../xds/naming.ts';
import { type JsonValue, toStruct } from '../../xds/struct.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { EndpointModel, ServiceModel, Snapshot } from '../model/snapshot.ts';
import { endpointsFor, exportedHostnames, subsetsOf } from '../model/snapshot-queries.ts';

/** Shared building blocks of the generators. Pure functions of their arguments. */

export const ADS: AdsConfigSource = { ads: {} };

/** Upstream connect timeout of every generated cluster. */
export const CONNECT_TIMEOUT: Duration = { seconds: '10' };

export function routerFilter(): RouterFilter {
  return { name: 'envoy.filters.http.router', typed_config: { '@type': TYPED_CONFIG.router } };
}

/**
 * ALPN of a mesh TCP connection: meshfed's own peer exchange first (the caller sends its peer
 * metadata in-band, src/sidecar/tcp-peer-exchange.ts), then Istio's values; the destination's
 * inbound listener tells them from `h2` (mesh HTTP) with `application_protocols` matches.
 */
export const MESH_TCP_ALPN: readonly string[] = ['meshfed-peer-exchange', 'istio-peer-exchange', 'istio'];

/**
 * Mesh mTLS material: the workload certificate `default` and the trust bundle `ROOTCA`, over
 * SDS/ADS; ALPN `h2` (mesh HTTP) unless given (MESH_TCP_ALPN for tcp and tls ports).
 */
export function meshTlsContext(alpn: readonly string[] = ['h2']): CommonTlsContext {
  return {
    tls_certificate_sds_secret_configs: [{ name: SECRET.workloadCert, sds_config: ADS }],
    validation_context_sds_secret_config: { name: SECRET.rootCa, sds_config: ADS },
    alpn_protocols: [...alpn],
  };
}

/**
 * The mesh mTLS material of an inbound (server) chain: as meshTlsContext, and the trust domains
 * whose peers it accepts (`spiffe://<td>/` URI SAN prefixes, the mesh's own first, then meshConfig
 * `trustDomainAliases`), in a combined validation context.
 */
export function inboundMeshTlsContext(trustDomains: readonly string[], alpn: readonly string[] = ['h2']): CommonTlsContext {
  return {
    tls_certificate_sds_secret_configs: [{ name: SECRET.workloadCert, sds_config: ADS }],
    combined_validation_context: {
      default_validation_context: {
        match_typed_subject_alt_names: trustDomains.map((td) => ({ san_type: 'URI' as const, matcher: { prefix: `spiffe://${td}/` } })),
      },
      validation_context_sds_secret_config: { name: SECRET.rootCa, sds_config: ADS },
    },
    alpn_protocols: [...alpn],
  };
}

/** The mesh's trust domain, then its aliases (meshConfig `trustDomainAliases`), without repeats. */
export function meshTrustDomains(snap: Snapshot): string[] {
  return [...new Set([snap.trustDomain, ...snap.mesh.trustDomainAliases])];
}

/** The protocol of a service port in the snapshot; http when the port is unknown. */
export function portProtocol(snap: Snapshot, hostname: string, port: number): ServiceProtocol {
  return snap.services.get(hostname)?.ports.find((p) => p.port === port)?.protocol ?? 'http';
}

export function durationFromMs(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  return nanos > 0 ? { seconds: String(seconds), nanos } : { seconds: String(seconds) };
}

/** Endpoint/cluster metadata: one Struct per filter_metadata namespace (toStruct writes the wire form). */
export function metadata(namespaces: Record<string, { [k: string]: JsonValue }>): Metadata {
  const filter_metadata: Metadata['filter_metadata'] = {};
  for (const [ns, value] of Object.entries(namespaces)) filter_metadata[ns] = toStruct(value);
  return { filter_metadata };
}

/** An HCM using RDS over ADS, router filter last. */
/**
 * The HTTP filters before the router, as Istio orders them: CORS, then fault. Their settings are
 * per route. Proxyless gRPC clients run fault only (grpc-js-xds has no CORS filter).
 */
export function httpFilters(client: 'sidecar' | 'proxyless'): HttpFilter[] {
  const fault: HttpFilter = { name: 'envoy.filters.http.fault', typed_config: { '@type': TYPED_CONFIG.fault } };
  if (client === 'proxyless') return [fault];
  return [{ name: 'envoy.filters.http.cors', typed_config: { '@type': TYPED_CONFIG.cors } }, fault];
}

/** The websocket entry of `upgrade_configs`. */
export const WEBSOCKET_UPGRADE = Object.freeze({ upgrade_type: 'websocket' as const });

/**
 * The HCM fields of Istio's meshConfig `pathNormalization`, as istiod sets them: NONE leaves the
 * path alone; BASE is `normalize_path`; MERGE_SLASHES adds `merge_slashes`;
 * DECODE_AND_MERGE_SLASHES adds `path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`.
 * Always written, so a sidecar never falls back on a default of its own.
 */
export function pathNormalizationFields(mode: MeshPathNormalization): Pick<HttpConnectionManager, 'normalize_path' | 'merge_slashes' | 'path_with_escaped_slashes_action'> {
  return {
    normalize_path: { value: mode !== 'NONE' },
    merge_slashes: mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES',
    path_with_escaped_slashes_action: mode === 'DECODE_AND_MERGE_SLASHES' ? 'UNESCAPE_AND_FORWARD' : 'KEEP_UNCHANGED',
  };
}

export function rdsConnectionManager(
  statPrefix: string,
  routeConfigName: string,
  client: 'sidecar' | 'proxyless',
  normalization?: MeshPathNormalization,
): HttpConnectionManager {
  return {
    '@type': TYPED_CONFIG.httpConnectionManager,
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfigName, config_source: ADS },
    http_filters: [...httpFilters(client), routerFilter()],
    // Istio lets websocket upgrades through every sidecar HTTP connection manager.
    ...(client === 'sidecar' ? { upgrade_configs: [WEBSOCKET_UPGRADE] } : {}),
    ...(normalization !== undefined ? pathNormalizationFields(normalization) : {}),
  };
}

/** One outbound cluster: a service port and a subset (`''`: every endpoint). */
export interface OutboundClusterKey {
  name: string;
  hostname: string;
  port: number;
  subset: string;
}

/** Every outbound cluster of the mesh, sorted by host, port, then default-before-subsets. */
export function outboundClusters(snap: Snapshot): OutboundClusterKey[] {
  const out: OutboundClusterKey[] = [];
  for (const service of snap.services.values()) out.push(...serviceClusterKeys(snap, service));
  return out;
}

/** The outbound clusters of one service: per port, the default then one per DestinationRule subset. */
export function serviceClusterKeys(snap: Snapshot, service: ServiceModel): OutboundClusterKey[] {
  const out: OutboundClusterKey[] = [];
  const subsets = ['', ...subsetsOf(snap, service.hostname).map((s) => s.name)];
  for (const { port } of service.ports) {
    for (const subset of subsets) {
      out.push({ name: outboundClusterName(port, subset, service.hostname), hostname: service.hostname, port, subset });
    }
  }
  return out;
}

/** One SNI the east-west gateway serves; `endpointId` for an endpoint-qualified SNI. */
export interface GatewaySniKey extends OutboundClusterKey {
  sni: string;
  /** Set on endpoint-qualified SNIs: the one local endpoint (by `endpointIdOf`) it leads to. */
  endpointId?: string;
}

/**
 * The SNIs the east-west gateway serves: per service exported by this cluster (ServiceExport and
 * local sidecar'd endpoints), per port with such endpoints, one for all endpoints and one per
 * DestinationRule subset; and for each of those, one endpoint-qualified SNI (`endpointSniFor`)
 * per local sidecar'd endpoint it covers, named by `endpointIdOf(cluster, namespace, workload)`,
 * the id the federation publishes. Each is its own filter chain and cluster (named by the SNI),
 * so an id that is not a local endpoint of that service and subset matches no chain and is
 * refused. Sorted by SNI.
 */
export function gatewaySnis(snap: Snapshot): GatewaySniKey[] {
  const out: GatewaySniKey[] = [];
  for (const hostname of exportedHostnames(snap)) {
    const service = snap.services.get(hostname);
    if (!service) continue;
    const eps = snap.endpoints.get(hostname) ?? [];
    const subsets = ['', ...subsetsOf(snap, hostname).map((s) => s.name)];
    for (const { port } of service.ports) {
      if (!eps.some((e) => isGatewayBackend(e, snap.cluster) && e.port === port)) continue;
      for (const subset of subsets) {
        const sni = sniFor(port, subset, hostname);
        const key = { hostname, port, subset };
        out.push({ name: sni, sni, ...key });
        const ids = new Set<string>();
        for (const e of endpointsFor(snap, hostname, port, subset)) {
          if (!isGatewayBackend(e, snap.cluster)) continue;
          const endpointId = endpointIdOf(e.cluster, e.namespace, e.workload);
          if (ids.has(endpointId)) continue;
          ids.add(endpointId);
          const qualified = endpointSniFor(endpointId, port, subset, hostname);
          out.push({ name: qualified, sni: qualified, ...key, endpointId });
        }
      }
    }
  }
  return out.sort((a, b) => (a.sni < b.sni ? -1 : a.sni > b.sni ? 1 : 0));
}

/** A local sidecar'd endpoint of this cluster: what the gateway may pass connections to. */
export function isGatewayBackend(e: EndpointModel, cluster: string): boolean {
  return e.kind === 'local' && e.sidecar && e.cluster === cluster;
}

/** The endpoints behind one gateway SNI: the service's (and subset's), or the one it names. */
export function gatewayEndpoints(snap: Snapshot, key: GatewaySniKey): EndpointModel[] {
  return endpointsFor(snap, key.hostname, key.port, key.subset).filter(
    (e) => isGatewayBackend(e, snap.cluster) && (key.endpointId === undefined || endpointIdOf(e.cluster, e.namespace, e.workload) === key.endpointId),
  );
}
