import type { ProxyConfig } from '../xds/config-types.ts';
import { LISTENER, parseSni, sniFor } from '../xds/naming.ts';

/** Where one exported SNI leads: the filter chain's cluster (its endpoints live in the cluster layer). */
export interface SniRoute {
  sni: string;
  chain: string;
  cluster: string;
  /** The service host named by the SNI (`reviews.default.svc.cluster.local`), or the SNI itself. */
  destinationService: string;
  connectTimeoutMs: number;
}

/** An immutable SNI → route table, built once per config and captured by each new connection. */
export interface SniRouteTable {
  readonly routes: ReadonlyMap<string, SniRoute>;
  /** True once the `eastwestgateway_15443` listener is present. */
  readonly hasListener: boolean;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const EMPTY_ROUTE_TABLE: SniRouteTable = { routes: new Map(), hasListener: false };

/** The service SNI inside an endpoint-qualified SNI; undefined for any other name. */
export function serviceSniOf(sni: string): string | undefined {
  const p = parseSni(sni);
  return p?.endpointId === undefined ? undefined : sniFor(p.port, p.subset, p.hostname);
}

/** The service host carried by an Istio SNI (plain or endpoint-qualified); other SNIs name themselves. */
export function destinationServiceOf(sni: string): string {
  return parseSni(sni)?.hostname ?? sni;
}

/**
 * Builds the route table from the gateway's xDS view: each TCP filter chain of the
 * `eastwestgateway_15443` listener maps each of its `serverNames` (exact, lower-cased) to its
 * cluster (endpoints are picked by the shared cluster layer). The first chain naming an SNI wins, as in Envoy's filter chain match. HTTP chains are ignored: the
 * gateway never terminates TLS. Pure.
 */
export function buildSniRouteTable(cfg: ProxyConfig): SniRouteTable {
  const listener = cfg.listeners.get(LISTENER.eastWestGateway);
  if (!listener) return EMPTY_ROUTE_TABLE;
  const routes = new Map<string, SniRoute>();
  for (const chain of listener.filterChains) {
    if (chain.kind !== 'tcp') continue;
    // The receiver refuses weighted_clusters on the gateway's listener, so there is one cluster.
    const name = chain.clusters[0]?.name ?? '';
    const cluster = cfg.clusters.get(name);
    for (const name of chain.serverNames) {
      const sni = name.toLowerCase();
      if (routes.has(sni)) continue;
      routes.set(sni, {
        sni,
        chain: chain.name,
        cluster: name,
        destinationService: destinationServiceOf(sni),
        connectTimeoutMs: cluster?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      });
    }
  }
  return { routes, hasListener: true };
}
