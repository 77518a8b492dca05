import type { LocalRateLimitConfig } from '../config-types.ts';
import { type Issues, type Obj, join, onlyKeys, optDurationMs, optInt, optObj, optString, optWrappedInt } from './reader.ts';
import { fractionPerMillion, headerOps } from './route-action.ts';

/**
 * Validator of Envoy's local rate limit config
 * (`envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`), on the HCM's filter list
 * (`where: 'listener'`) or in a route's or virtual host's `typed_per_filter_config` (`'route'`,
 * where Envoy requires a token bucket). Honoured: stat_prefix, status, token_bucket, the
 * filter_enabled and filter_enforced default fractions, response_headers_to_add. Everything else
 * (descriptors, stage, runtime keys, x-ratelimit headers, per-connection buckets, …) is NACKed.
 */

/** `envoy.type.v3.StatusCode` names (the decoded enum) → HTTP status codes. */
const STATUS_CODES: Readonly<Record<string, number>> = {
  Empty: 0, Continue: 100, OK: 200, Created: 201, Accepted: 202, NonAuthoritativeInformation: 203, NoContent: 204,
  ResetContent: 205, PartialContent: 206, MultiStatus: 207, AlreadyReported: 208, IMUsed: 226, MultipleChoices: 300,
  MovedPermanently: 301, Found: 302, SeeOther: 303, NotModified: 304, UseProxy: 305, TemporaryRedirect: 307,
  PermanentRedirect: 308, BadRequest: 400, Unauthorized: 401, PaymentRequired: 402, Forbidden: 403, NotFound: 404,
  MethodNotAllowed: 405, NotAcceptable: 406, ProxyAuthenticationRequired: 407, RequestTimeout: 408, Conflict: 409,
  Gone: 410, LengthRequired: 411, PreconditionFailed: 412, PayloadTooLarge: 413, URITooLong: 414,
  UnsupportedMediaType: 415, RangeNotSatisfiable: 416, ExpectationFailed: 417, MisdirectedRequest: 421,
  UnprocessableEntity: 422, Locked: 423, FailedDependency: 424, UpgradeRequired: 426, PreconditionRequired: 428,
  TooManyRequests: 429, RequestHeaderFieldsTooLarge: 431, InternalServerError: 500, NotImplemented: 501,
  BadGateway: 502, ServiceUnavailable: 503, GatewayTimeout: 504, HTTPVersionNotSupported: 505,
  VariantAlsoNegotiates: 506, InsufficientStorage: 507, LoopDetected: 508, NotExtended: 510,
  NetworkAuthenticationRequired: 511,
};

/** Envoy refuses shorter fill intervals ("must be >= 50ms to avoid too aggressive refills"). */
const MIN_FILL_INTERVAL_MS = 50;

/** `RuntimeFractionalPercent` (default_value only; meshfed has no runtime) as parts per million; absent: 0. */
function runtimeFraction(o: Obj, key: string, path: string, issues: Issues): number {
  const f = optObj(o, key, path, issues);
  if (!f) return 0;
  const p = join(path, key);
  onlyKeys(f, ['default_value'], p, issues);
  return fractionPerMillion(f, 'default_value', p, issues) ?? 0;
}

export function localRateLimitConfig(c: Obj, path: string, where: 'listener' | 'route', issues: Issues): LocalRateLimitConfig {
  onlyKeys(c, ['stat_prefix', 'status', 'token_bucket', 'filter_enabled', 'filter_enforced', 'response_headers_to_add'], path, issues);
  const statPrefix = optString(c, 'stat_prefix', path, issues) ?? '';
  if (statPrefix === '') issues.add(join(path, 'stat_prefix'), 'missing');
  else if (!/^[A-Za-z0-9_.-]+$/.test(statPrefix)) issues.add(join(path, 'stat_prefix'), 'must be letters, digits, _, . or -');
  let status = 429;
  const st = optObj(c, 'status', path, issues);
  if (st) {
    onlyKeys(st, ['code'], join(path, 'status'), issues);
    const raw = st['code'];
    const code = typeof raw === 'string' ? STATUS_CODES[raw] : typeof raw === 'number' ? raw : undefined;
    if (code === undefined || !Number.isInteger(code) || code < 100 || code > 599) issues.add(join(join(path, 'status'), 'code'), 'must be an HTTP status code');
    // Envoy: "If this is set to < 400, 429 will be used instead."
    if (code !== undefined && code >= 400) status = code;
  }
  const out: LocalRateLimitConfig = {
    statPrefix,
    status,
    enabledPerMillion: runtimeFraction(c, 'filter_enabled', path, issues),
    enforcedPerMillion: runtimeFraction(c, 'filter_enforced', path, issues),
  };
  const tb = optObj(c, 'token_bucket', path, issues);
  if (tb) {
    const tp = join(path, 'token_bucket');
    onlyKeys(tb, ['max_tokens', 'tokens_per_fill', 'fill_interval'], tp, issues);
    const maxTokens = optInt(tb, 'max_tokens', 1, 0xffffffff, tp, issues);
    if (maxTokens === undefined) issues.add(join(tp, 'max_tokens'), 'must be greater than 0');
    const tokensPerFill = optWrappedInt(tb, 'tokens_per_fill', 1, 0xffffffff, tp, issues) ?? 1;
    const fillIntervalMs = optDurationMs(tb, 'fill_interval', tp, issues);
    if (fillIntervalMs === undefined) issues.add(join(tp, 'fill_interval'), 'missing');
    else if (fillIntervalMs < MIN_FILL_INTERVAL_MS) issues.add(join(tp, 'fill_interval'), `must be at least ${MIN_FILL_INTERVAL_MS} ms`);
    if (maxTokens !== undefined && fillIntervalMs !== undefined) out.tokenBucket = { maxTokens, tokensPerFill, fillIntervalMs };
  } else if (where === 'route') issues.add(join(path, 'token_bucket'), 'required on a per-route config');
  const headers = headerOps(c, 'response', path, issues);
  if (headers) out.responseHeaders = headers;
  return out;
}
