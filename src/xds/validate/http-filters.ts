import type { CorsPolicyConfig, FaultConfig, HttpFilterConfig, PerFilterConfig, StringMatcherConfig } from '../config-types.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optDurationMs, optInt, optObj, optString, optWrappedBool } from './reader.ts';
import { localRateLimitConfig } from './http-filter-local-ratelimit.ts';
import { rbacFilterConfig } from './http-filter-rbac.ts';
import { jwtAuthnFilterConfig } from './http-filter-jwt-authn.ts';
import { fractionPerMillion } from './route-action.ts';
import { stringMatcherAt } from './route-matchers.ts';

/**
 * HTTP filters meshfed's proxies run, by their Envoy config type URL, and the validators of their
 * listener-level and per-route configuration. The router is always last and implicit in the
 * normalized config. A filter type not listed here is NACKed.
 */

/**
 * Filters meshfed runs. Fault and CORS take all their settings per route (their listener-level
 * config must be empty); the local rate limit also has listener-level settings.
 */
const FILTER_TYPES: ReadonlySet<string> = new Set([TYPED_CONFIG.fault, TYPED_CONFIG.cors, TYPED_CONFIG.localRateLimit, TYPED_CONFIG.rbac, TYPED_CONFIG.jwtAuthn]);

/** The HCM's `http_filters`: known filters, then the router, last. */
export function httpFilterList(hcm: Obj, path: string, issues: Issues): HttpFilterConfig[] {
  const filters = list(hcm, 'http_filters', path, issues);
  if (filters.length === 0) issues.add(join(path, 'http_filters'), 'missing router filter');
  const out: HttpFilterConfig[] = [];
  filters.forEach((f, i) => {
    const fp = join(join(path, 'http_filters'), i);
    if (!isObj(f)) {
      issues.add(fp, 'not an object');
      return;
    }
    onlyKeys(f, ['name', 'typed_config'], fp, issues);
    const tc = isObj(f['typed_config']) ? f['typed_config'] : undefined;
    const type = tc?.['@type'];
    const last = i === filters.length - 1;
    if (type === TYPED_CONFIG.router) {
      if (!last) issues.add(fp, 'router filter must be last');
      if (tc) onlyKeys(tc, [], join(fp, 'typed_config'), issues);
      return;
    }
    if (last) issues.add(fp, 'the last http filter must be the router');
    if (typeof type !== 'string' || !FILTER_TYPES.has(type)) {
      issues.add(fp, `unsupported http filter ${JSON.stringify(type ?? f['name'])}`);
      return;
    }
    const name = typeof f['name'] === 'string' ? f['name'] : type;
    if (type === TYPED_CONFIG.localRateLimit && tc) {
      out.push({ name, typeUrl: type, localRateLimit: localRateLimitConfig(tc, join(fp, 'typed_config'), 'listener', issues) });
      return;
    }
    if (type === TYPED_CONFIG.jwtAuthn) {
      out.push({ name, typeUrl: type, jwtAuthn: jwtAuthnFilterConfig(tc ?? {}, join(fp, 'typed_config'), issues) });
      return;
    }
    if (type === TYPED_CONFIG.rbac) {
      out.push({ name, typeUrl: type, rbac: rbacFilterConfig(tc ?? {}, join(fp, 'typed_config'), issues) });
      return;
    }
    // Fault and CORS settings live on the routes (typed_per_filter_config); none are honoured here.
    if (tc) onlyKeys(tc, [], join(fp, 'typed_config'), issues);
    out.push({ name, typeUrl: type });
  });
  return out;
}

function fault(c: Obj, path: string, issues: Issues): FaultConfig {
  onlyKeys(c, ['delay', 'abort'], path, issues);
  const out: FaultConfig = {};
  const delay = optObj(c, 'delay', path, issues);
  if (delay) {
    const dp = join(path, 'delay');
    onlyKeys(delay, ['fixed_delay', 'percentage'], dp, issues);
    const ms = optDurationMs(delay, 'fixed_delay', dp, issues);
    if (ms === undefined) issues.add(join(dp, 'fixed_delay'), 'missing');
    out.delay = { ms: ms ?? 0, perMillion: fractionPerMillion(delay, 'percentage', dp, issues) ?? 0 };
  }
  const abort = optObj(c, 'abort', path, issues);
  if (abort) {
    const ap = join(path, 'abort');
    onlyKeys(abort, ['http_status', 'grpc_status', 'percentage'], ap, issues);
    const httpStatus = optInt(abort, 'http_status', 200, 599, ap, issues);
    const grpcStatus = optInt(abort, 'grpc_status', 0, 16, ap, issues);
    if ((httpStatus === undefined) === (grpcStatus === undefined)) issues.add(ap, 'exactly one of http_status or grpc_status is required');
    out.abort = { perMillion: fractionPerMillion(abort, 'percentage', ap, issues) ?? 0 };
    if (httpStatus !== undefined) out.abort.httpStatus = httpStatus;
    if (grpcStatus !== undefined) out.abort.grpcStatus = grpcStatus;
  }
  if (!out.delay && !out.abort) issues.add(path, 'one of delay or abort is required');
  return out;
}

function cors(c: Obj, path: string, issues: Issues): CorsPolicyConfig {
  onlyKeys(c, ['allow_origin_string_match', 'allow_methods', 'allow_headers', 'expose_headers', 'max_age', 'allow_credentials'], path, issues);
  const allowOrigins: StringMatcherConfig[] = [];
  list(c, 'allow_origin_string_match', path, issues).forEach((m, i) => {
    const mp = join(join(path, 'allow_origin_string_match'), i);
    const sm = isObj(m) ? stringMatcherAt(m, mp, issues) : undefined;
    if (!isObj(m)) issues.add(mp, 'not an object');
    if (sm) allowOrigins.push(sm);
  });
  const out: CorsPolicyConfig = { allowOrigins };
  for (const [key, field] of [['allow_methods', 'allowMethods'], ['allow_headers', 'allowHeaders'], ['expose_headers', 'exposeHeaders'], ['max_age', 'maxAge']] as const) {
    const v = optString(c, key, path, issues);
    if (v !== undefined && v !== '') out[field] = v;
  }
  const credentials = optWrappedBool(c, 'allow_credentials', path, issues);
  if (credentials !== undefined) out.allowCredentials = credentials;
  return out;
}

/** A route's (or virtual host's) `typed_per_filter_config`, by the config's type. */
export function perFilterConfig(o: Obj, path: string, issues: Issues): PerFilterConfig {
  const out: PerFilterConfig = {};
  const m = optObj(o, 'typed_per_filter_config', path, issues);
  if (!m) return out;
  const mp = join(path, 'typed_per_filter_config');
  for (const [name, any] of Object.entries(m)) {
    const p = join(mp, name);
    if (!isObj(any)) {
      issues.add(p, 'not an object');
      continue;
    }
    if (any['@type'] === TYPED_CONFIG.fault) out.fault = fault(any, p, issues);
    else if (any['@type'] === TYPED_CONFIG.corsPolicy) out.cors = cors(any, p, issues);
    else if (any['@type'] === TYPED_CONFIG.localRateLimit) out.localRateLimit = localRateLimitConfig(any, p, 'route', issues);
    else issues.add(p, `unsupported per-route filter config ${JSON.stringify(any['@type'])}`);
  }
  return out;
}
