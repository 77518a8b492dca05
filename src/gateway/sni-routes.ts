import type { EndpointConfig, ProxyConfig } from '../xds/config-types.ts';
import { LISTENER, parseSni } from '../xds/naming.ts';

/** Where one exported SNI leads: the filter chain's cluster and its endpoints at config time. */
export interface SniRoute {
  sni: string;
  chain: string;
  cluster: string;
  /** The service host named by the SNI (`reviews.default.svc.cluster.local`), or the SNI itself. */
  destinationService: string;
  /** Healthy endpoints of the best (lowest) priority present; empty when none is healthy. */
  endpoints: readonly EndpointConfig[];
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

/** The service host carried by an Istio SNI; other SNIs name themselves. */
export function destinationServiceOf(sni: string): string {
  return parseSni(sni)?.hostname ?? sni;
}

function healthyEndpoints(all: readonly EndpointConfig[]): EndpointConfig[] {
  const healthy = all.filter((e) => e.healthy);
  if (healthy.length === 0) return [];
  const best = Math.min(...healthy.map((e) => e.priority));
  return healthy.filter((e) => e.priority === best);
}

/**
 * Builds the route table from the gateway's xDS view: each TCP filter chain of the
 * `eastwestgateway_15443` listener maps each of its `serverNames` (exact, lower-cased) to its
 * cluster; the cluster's endpoints come from EDS (`edsServiceName`) or its static endpoints. The
 * first chain naming an SNI wins, as in Envoy's filter chain match. HTTP chains are ignored: the
 * gateway never terminates TLS. Pure.
 */
export function buildSniRouteTable(cfg: ProxyConfig): SniRouteTable {
  const listener = cfg.listeners.get(LISTENER.eastWestGateway);
  if (!listener) return EMPTY_ROUTE_TABLE;
  const routes = new Map<string, SniRoute>();
  for (const chain of listener.filterChains) {
    if (chain.kind !== 'tcp') continue;
    const cluster = cfg.clusters.get(chain.cluster);
    const all =
      cluster?.type === 'STATIC'
        ? (cluster.staticEndpoints ?? [])
        : (cfg.endpoints.get(cluster?.edsServiceName ?? chain.cluster)?.endpoints ?? []);
    for (const name of chain.serverNames) {
      const sni = name.toLowerCase();
      if (routes.has(sni)) continue;
      routes.set(sni, {
        sni,
        chain: chain.name,
        cluster: chain.cluster,
        destinationService: destinationServiceOf(sni),
        endpoints: healthyEndpoints(all),
        connectTimeoutMs: cluster?.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      });
    }
  }
  return { routes, hasListener: true };
}

/** Round robin over a route's endpoints; one cursor per cluster, kept across config swaps. */
export class RoundRobin {
  private readonly cursors = new Map<string, number>();

  pick(route: SniRoute): EndpointConfig | undefined {
    if (route.endpoints.length === 0) return undefined;
    const cursor = this.cursors.get(route.cluster) ?? 0;
    this.cursors.set(route.cluster, (cursor + 1) % 1_000_000_007);
    return route.endpoints[cursor % route.endpoints.length];
  }
}
