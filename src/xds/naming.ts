import { createHash } from 'node:crypto';

/**
 * Names shared by Pilot's generators and the proxies that consume them (Istio's conventions).
 */

/** `reviews.default.svc.cluster.local` */
export function serviceHostname(name: string, namespace: string, domainSuffix = 'cluster.local'): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** Outbound cluster: `outbound|9080|v1|reviews.default.svc.cluster.local` (subset may be empty). */
export function outboundClusterName(port: number, subset: string, hostname: string): string {
  return `outbound|${port}|${subset}|${hostname}`;
}

export function parseOutboundClusterName(
  name: string,
): { port: number; subset: string; hostname: string } | undefined {
  const m = /^outbound\|(\d{1,5})\|([^|]*)\|([^|]+)$/.exec(name);
  if (!m) return undefined;
  return { port: Number(m[1]), subset: m[2] ?? '', hostname: m[3] ?? '' };
}

/** Inbound cluster of a sidecar: `inbound|9080||`. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** Cross-cluster SNI: `outbound_.9080_._.reviews.default.svc.cluster.local` (empty subset). */
export function sniFor(port: number, subset: string, hostname: string): string {
  return `outbound_.${port}_.${subset}_.${hostname}`;
}

/** An endpoint id: 16 lower-case hex digits (see `endpointIdOf`). */
const ENDPOINT_ID = /^[0-9a-f]{16}$/;

/**
 * The stable id of one workload endpoint in the federation: the first 16 hex digits of
 * SHA-256(`<cluster>/<namespace>/<workload>`). The exporting cluster publishes it (Consul meta
 * `endpoint_id`) and its gateway computes it again for its own endpoints, so it never needs to be
 * stored. It names the workload, not its address: a pod that restarts on a new address keeps it.
 */
export function endpointIdOf(cluster: string, namespace: string, workload: string): string {
  return createHash('sha256').update(`${cluster}/${namespace}/${workload}`).digest('hex').slice(0, 16);
}

export function isEndpointId(id: string): boolean {
  return ENDPOINT_ID.test(id);
}

/**
 * Endpoint-qualified cross-cluster SNI: `ep_.<id>_.` before a service SNI, e.g.
 * `ep_.0123456789abcdef_.outbound_.9080_._.reviews.default.svc.cluster.local`. A source sidecar
 * sends it to reach exactly one remote endpoint through that cluster's east-west gateway, which
 * passes the bytes to that endpoint only when it is a local endpoint of the exported service (and
 * of the subset) the service SNI names; any other id is refused like an unknown SNI. The plain
 * service SNI keeps meaning "any endpoint of the service, chosen by the gateway".
 */
export function endpointSniFor(endpointId: string, port: number, subset: string, hostname: string): string {
  return `ep_.${endpointId}_.${sniFor(port, subset, hostname)}`;
}

/** A parsed cross-cluster SNI; `endpointId` only for the endpoint-qualified form. */
export interface ParsedSni {
  port: number;
  subset: string;
  hostname: string;
  endpointId?: string;
}

/** Parses a service SNI or an endpoint-qualified SNI (`endpointSniFor`); undefined for anything else. */
export function parseSni(sni: string): ParsedSni | undefined {
  const m = /^(?:ep_\.([0-9a-f]{16})_\.)?outbound_\.(\d{1,5})_\.([a-z0-9-]*)_\.([a-z0-9.-]+)$/.exec(sni);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  const out: ParsedSni = { port, subset: m[3] ?? '', hostname: m[4] ?? '' };
  if (m[1] !== undefined) out.endpointId = m[1];
  return out;
}

/** Listener and route names. */
export const LISTENER = {
  /** Sidecar outbound HTTP listener on 15001 (route config `ROUTE_OUTBOUND`). */
  virtualOutbound: 'virtualOutbound',
  /** Sidecar inbound mTLS listener on 15006; one filter chain per inbound port. */
  virtualInbound: 'virtualInbound',
  /** East-west gateway's SNI passthrough listener on 15443; one filter chain per exported SNI. */
  eastWestGateway: 'eastwestgateway_15443',
} as const;

export const ROUTE_OUTBOUND = 'outbound';

/**
 * Istio's clusters for captured connections to destinations the mesh does not know:
 * `PassthroughCluster` (ORIGINAL_DST: each connection goes where it was going) under ALLOW_ANY,
 * `BlackHoleCluster` (no endpoints: refused) under REGISTRY_ONLY. Also their tcp_proxy stat prefixes.
 */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
/** Istio's REGISTRY_ONLY catch-all virtual host (direct response 502), reported as BlackHoleCluster. */
export const BLOCK_ALL_VIRTUAL_HOST = 'block_all';

/** SDS secret names, as Istio uses them; meshfed's proxies resolve them to Citadel material. */
export const SECRET = { workloadCert: 'default', rootCa: 'ROOTCA' } as const;

/** Endpoint metadata: `filter_metadata` namespaces and keys. */
export const ENDPOINT_META = {
  /** `istio.tlsMode` = `istio` for endpoints that speak mesh mTLS; `istio.cluster_id`. */
  istio: 'istio',
  /**
   * `meshfed.inbound_port`: the port where the destination's sidecar captures traffic (stand-in for
   * Istio's iptables redirect). Present on sidecar'd workload endpoints, absent on gateway endpoints
   * (which are dialled as given) and on plaintext endpoints. `meshfed.workload`, `meshfed.namespace`.
   * `meshfed.sni`: on a remote endpoint reached through its cluster's gateway, the
   * endpoint-qualified SNI (`endpointSniFor`) to send instead of the cluster's service SNI, so
   * that the gateway passes the connection to exactly that endpoint.
   */
  meshfed: 'meshfed',
} as const;

/** The label that marks an endpoint's cluster, usable in DestinationRule subsets. */
export const CLUSTER_LABEL = 'topology.istio.io/cluster';
