import type { HttpFilterConfig } from '../../xds/config-types.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import { createCorsFilter } from './http-filter-cors.ts';
import { createFaultFilter } from './http-filter-fault.ts';
import type { FilterStatSink, HttpFilter, HttpFilterFactory } from './http-filter-interface.ts';
import { createLocalRateLimitFilter } from './http-filter-local-ratelimit.ts';
import { createRbacFilter } from './http-filter-rbac.ts';
import { createJwtAuthnFilter } from './http-filter-jwt-authn.ts';

/**
 * HTTP filters by Envoy config type URL. The xDS validators accept a filter in a listener only
 * when its type is registered here (src/xds/validate/http-filters.ts lists the same types), so a
 * validated chain always builds.
 */
const registry = new Map<string, HttpFilterFactory>([
  [TYPED_CONFIG.fault, createFaultFilter],
  [TYPED_CONFIG.cors, createCorsFilter],
  [TYPED_CONFIG.localRateLimit, createLocalRateLimitFilter],
  [TYPED_CONFIG.rbac, createRbacFilter],
  [TYPED_CONFIG.jwtAuthn, createJwtAuthnFilter],
]);

export function registerHttpFilter(typeUrl: string, factory: HttpFilterFactory): void {
  registry.set(typeUrl, factory);
}

/** The filter instances of a connection manager, in order (the router is not among them); `stats` counts their stats. */
export function createHttpFilters(configs: readonly HttpFilterConfig[], stats: FilterStatSink): HttpFilter[] {
  return configs.map((c) => {
    const factory = registry.get(c.typeUrl);
    if (!factory) throw new Error(`http filter ${c.typeUrl} is not registered (the validator should have refused it)`);
    return factory(c, stats);
  });
}
