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

export function parseSni(sni: string): { port: number; subset: string; hostname: string } | undefined {
  const m = /^outbound_\.(\d{1,5})_\.([a-z0-9-]*)_\.([a-z0-9.-]+)$/.exec(sni);
  if (!m) return undefined;
  const port = Number(m[1]);
  if (port < 1 || port > 65535) return undefined;
  return { port, subset: m[2] ?? '', hostname: m[3] ?? '' };
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
   */
  meshfed: 'meshfed',
} as const;

/** The label that marks an endpoint's cluster, usable in DestinationRule subsets. */
export const CLUSTER_LABEL = 'topology.istio.io/cluster';
