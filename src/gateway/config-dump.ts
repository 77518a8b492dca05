import type { ProxyConfig } from '../xds/config-types.ts';
import type { SniRouteTable } from './sni-routes.ts';

/**
 * The gateway's `/config_dump` body: the xDS view it holds (maps as arrays) plus the SNI route
 * table derived from it. Shape: `{ versions, listeners, clusters, endpoints, sniRoutes }`. Pure.
 */
export function configDump(cfg: ProxyConfig | undefined, routes: SniRouteTable): Record<string, unknown> {
  return {
    versions: cfg?.versions ?? {},
    listeners: cfg ? [...cfg.listeners.values()] : [],
    clusters: cfg ? [...cfg.clusters.values()] : [],
    endpoints: cfg ? [...cfg.endpoints.values()] : [],
    sniRoutes: [...routes.routes.values()],
  };
}
