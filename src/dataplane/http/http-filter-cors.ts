import type { OutgoingHttpHeaders } from 'node:http';
import type { CorsPolicyConfig } from '../../xds/config-types.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import { CONTINUE, type FilterRequest, type HttpFilter } from './http-filter-interface.ts';
import { stringMatches } from './route-table.ts';

/**
 * Envoy's CORS filter with the route's `CorsPolicy`. A preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) from an allowed origin is answered by the proxy; one from another
 * origin goes upstream unchanged, as Envoy forwards non-matching preflights. An actual request from
 * an allowed origin gets Access-Control-Allow-Origin (and Expose-Headers, Allow-Credentials) on
 * its response.
 */

function header(req: FilterRequest, name: string): string | undefined {
  const v = req.request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function allowedOrigin(policy: CorsPolicyConfig, origin: string | undefined): boolean {
  return origin !== undefined && policy.allowOrigins.some((m) => stringMatches(m, origin));
}

export function createCorsFilter(): HttpFilter {
  return {
    typeUrl: TYPED_CONFIG.cors,
    onRequest(req) {
      const policy = req.route.perFilter.cors;
      if (!policy || req.request.method !== 'OPTIONS') return CONTINUE;
      const origin = header(req, 'origin');
      if (header(req, 'access-control-request-method') === undefined || !allowedOrigin(policy, origin)) return CONTINUE;
      const headers: OutgoingHttpHeaders = { 'access-control-allow-origin': origin };
      if (policy.allowMethods) headers['access-control-allow-methods'] = policy.allowMethods;
      if (policy.allowHeaders) headers['access-control-allow-headers'] = policy.allowHeaders;
      if (policy.maxAge) headers['access-control-max-age'] = policy.maxAge;
      if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
      return { kind: 'reply', reply: { status: 200, flag: '', body: '', headers } };
    },
    onResponseHeaders(req, _status, headers) {
      const policy = req.route.perFilter.cors;
      if (!policy) return;
      const origin = header(req, 'origin');
      if (!allowedOrigin(policy, origin)) return;
      headers['access-control-allow-origin'] = origin;
      if (policy.exposeHeaders) headers['access-control-expose-headers'] = policy.exposeHeaders;
      if (policy.allowCredentials) headers['access-control-allow-credentials'] = 'true';
    },
  };
}
