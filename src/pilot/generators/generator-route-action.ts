import { outboundClusterName } from '../../xds/naming.ts';
import type {
  HashPolicy,
  HeaderEdits,
  HeaderMatcher,
  HeaderValueOption,
  QueryParameterMatcher,
  RedirectAction,
  Route,
  RouteAction,
  RouteMatch,
  StringMatcher,
} from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { HeadersConfig, HttpMatchRequest, HttpRoute, StringMatch } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { durationFromMs } from './generator-common.ts';
import { hashPolicyOf, trafficPolicyFor } from './generator-traffic-policy.ts';

/** What a client of the routes runs: the CORS filter (sidecars), consistent-hash balancing. */
export interface RouteOptions {
  cors: boolean;
  hashPolicy: boolean;
  /**
   * A proxyless gRPC client: the route timeout also goes to `max_stream_duration` (the field
   * gRPC reads, gRFC A31), as Istio writes it for proxyless nodes.
   */
  proxyless?: boolean;
}

/**
 * Istio HTTPRoute → Envoy Route, the way istiod translates it: matches (pseudo-headers for
 * scheme, method and authority; invert_match for withoutHeaders), the action (weighted clusters,
 * redirect or direct response), timeout, retries (Istio's default policy when none is set), mirrors,
 * rewrites, header edits, and per-route fault and CORS config. Pure.
 */

/** The HTTP filters a sidecar's outbound connection manager runs before the router (Istio's order). */
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';

function stringMatcher(m: StringMatch, ignoreCase = false): StringMatcher | undefined {
  if (m.exact !== undefined) return { exact: m.exact, ...(ignoreCase ? { ignore_case: true } : {}) };
  if (m.prefix !== undefined) return { prefix: m.prefix, ...(ignoreCase ? { ignore_case: true } : {}) };
  if (m.regex !== undefined) return { safe_regex: { regex: m.regex } };
  return undefined;
}

function headerMatcher(name: string, m: StringMatch, invert: boolean): HeaderMatcher {
  const sm = stringMatcher(m);
  return { name, ...(sm ? { string_match: sm } : { present_match: true }), ...(invert ? { invert_match: true } : {}) };
}

export function routeMatch(m: HttpMatchRequest | undefined): RouteMatch {
  const match: RouteMatch = {};
  const uri = m?.uri;
  if (uri?.exact !== undefined) match.path = uri.exact;
  else if (uri?.regex !== undefined) match.safe_regex = { regex: uri.regex };
  else match.prefix = uri?.prefix ?? '/';
  if (m?.ignoreUriCase) match.case_sensitive = { value: false };
  const headers: HeaderMatcher[] = [];
  if (m?.scheme) headers.push(headerMatcher(':scheme', m.scheme, false));
  if (m?.method) headers.push(headerMatcher(':method', m.method, false));
  if (m?.authority) headers.push(headerMatcher(':authority', m.authority, false));
  for (const name of Object.keys(m?.headers ?? {}).sort()) {
    const h = m?.headers[name];
    if (h) headers.push(headerMatcher(name, h, false));
  }
  for (const name of Object.keys(m?.withoutHeaders ?? {}).sort()) {
    const h = m?.withoutHeaders[name];
    if (h) headers.push(headerMatcher(name, h, true));
  }
  if (headers.length > 0) match.headers = headers;
  const query: QueryParameterMatcher[] = [];
  for (const name of Object.keys(m?.queryParams ?? {}).sort()) {
    const q = m?.queryParams[name];
    if (!q) continue;
    const sm = stringMatcher(q);
    query.push({ name, ...(sm ? { string_match: sm } : { present_match: true }) });
  }
  if (query.length > 0) match.query_parameters = query;
  return match;
}

function headerEdits(h: HeadersConfig | undefined): HeaderEdits {
  const out: HeaderEdits = {};
  const opts = (set: Readonly<Record<string, string>>, add: Readonly<Record<string, string>>): HeaderValueOption[] => [
    ...Object.entries(set).map(([key, value]): HeaderValueOption => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...Object.entries(add).map(([key, value]): HeaderValueOption => ({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
  if (h?.request) {
    const add = opts(h.request.set, h.request.add);
    if (add.length > 0) out.request_headers_to_add = add;
    if (h.request.remove.length > 0) out.request_headers_to_remove = [...h.request.remove];
  }
  if (h?.response) {
    const add = opts(h.response.set, h.response.add);
    if (add.length > 0) out.response_headers_to_add = add;
    if (h.response.remove.length > 0) out.response_headers_to_remove = [...h.response.remove];
  }
  return out;
}

/**
 * Destination port: the one named; else the virtual host's port when the destination is the same
 * host; else the destination service's only port; else the virtual host's port.
 */
export function destinationPort(snap: Snapshot, dest: { host: string; port?: number }, hostname: string, port: number): number {
  if (dest.port !== undefined) return dest.port;
  if (dest.host === hostname) return port;
  const ports = snap.services.get(dest.host)?.ports ?? [];
  return ports.length === 1 && ports[0] ? ports[0].port : port;
}

const PREVIOUS_HOSTS = { name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': TYPED_CONFIG.previousHosts } };
/** Istio's `retryRemoteLocalities`: the first retry may stay, later ones leave the priorities tried. */
const PREVIOUS_PRIORITIES = {
  name: 'envoy.retry_priorities.previous_priorities',
  typed_config: { '@type': TYPED_CONFIG.previousPriorities, update_frequency: 2 },
};

/** Istio's retry policy for a rule without `retries` (attempts 2 on connect failures, refused streams, 503…). */
export const DEFAULT_RETRY = { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'], statusCodes: [503] };

function retryPolicy(http: HttpRoute): RouteAction['retry_policy'] | undefined {
  const r = http.retries ?? DEFAULT_RETRY;
  if (r.attempts === 0) return undefined;
  return {
    retry_on: r.retryOn.join(','),
    num_retries: { value: r.attempts },
    ...('perTryTimeoutMs' in r && r.perTryTimeoutMs !== undefined ? { per_try_timeout: durationFromMs(r.perTryTimeoutMs) } : {}),
    ...(r.statusCodes.length > 0 ? { retriable_status_codes: [...r.statusCodes] } : {}),
    retry_host_predicate: [PREVIOUS_HOSTS],
    ...('remoteLocalities' in r && r.remoteLocalities === true ? { retry_priority: PREVIOUS_PRIORITIES } : {}),
    host_selection_retry_max_attempts: '5',
  };
}

const perMillion = (percent: number) => ({ numerator: Math.round(percent * 10_000), denominator: 'MILLION' as const });

/**
 * The route's hash policy (for consistentHash destinations): the destinations' DestinationRule
 * consistentHash, when every destination cluster of the route has the same one (Istio's rule).
 */
function routeHashPolicy(snap: Snapshot, destinations: readonly { host: string; subset: string; port: number }[]): HashPolicy[] | undefined {
  let policy: HashPolicy[] | undefined;
  let text: string | undefined;
  for (const d of destinations) {
    const p = hashPolicyOf(trafficPolicyFor(snap, d.host, d.port, d.subset));
    const t = JSON.stringify(p);
    if (text !== undefined && t !== text) return undefined;
    text = t;
    policy = p;
  }
  return policy;
}

function forwardAction(snap: Snapshot, http: HttpRoute, hostname: string, port: number, opts: RouteOptions): RouteAction {
  const weights = new Map<string, { weight: number; headers?: HeadersConfig }>();
  const destinations: { host: string; subset: string; port: number }[] = [];
  for (const d of http.route) {
    if (d.weight <= 0) continue;
    const destPort = destinationPort(snap, d.destination, hostname, port);
    destinations.push({ host: d.destination.host, subset: d.destination.subset, port: destPort });
    const name = outboundClusterName(destPort, d.destination.subset, d.destination.host);
    const prev = weights.get(name);
    weights.set(name, { weight: (prev?.weight ?? 0) + d.weight, ...((d.headers ?? prev?.headers) ? { headers: d.headers ?? prev?.headers } : {}) });
  }
  const clusters = [...weights.entries()];
  const single = clusters.length === 1 && clusters[0] && !clusters[0][1].headers;
  const action: RouteAction = single
    ? { cluster: clusters[0]?.[0] ?? '' }
    : { weighted_clusters: { clusters: clusters.map(([name, w]) => ({ name, weight: { value: w.weight }, ...headerEdits(w.headers) })) } };
  if (http.timeoutMs !== undefined) action.timeout = durationFromMs(http.timeoutMs);
  if (opts.proxyless && http.timeoutMs !== undefined) action.max_stream_duration = { max_stream_duration: durationFromMs(http.timeoutMs) };
  if (opts.hashPolicy) {
    const hashPolicy = routeHashPolicy(snap, destinations);
    if (hashPolicy) action.hash_policy = hashPolicy;
  }
  const retry = retryPolicy(http);
  if (retry) action.retry_policy = retry;
  if (http.mirrors.length > 0) {
    action.request_mirror_policies = http.mirrors.map((m) => ({
      cluster: outboundClusterName(destinationPort(snap, m.destination, hostname, port), m.destination.subset, m.destination.host),
      ...(m.percent < 100 ? { runtime_fraction: { default_value: perMillion(m.percent) } } : {}),
    }));
  }
  const rw = http.rewrite;
  if (rw?.uri !== undefined) action.prefix_rewrite = rw.uri;
  if (rw?.uriRegex) action.regex_rewrite = { pattern: { regex: rw.uriRegex.match }, substitution: rw.uriRegex.rewrite };
  if (rw?.authority !== undefined) action.host_rewrite_literal = rw.authority;
  return action;
}

const REDIRECT_CODE = { 301: 'MOVED_PERMANENTLY', 302: 'FOUND', 303: 'SEE_OTHER', 307: 'TEMPORARY_REDIRECT', 308: 'PERMANENT_REDIRECT' } as const;

function redirectAction(r: NonNullable<HttpRoute['redirect']>): RedirectAction {
  return {
    ...(r.scheme !== undefined ? { scheme_redirect: r.scheme } : {}),
    ...(r.authority !== undefined ? { host_redirect: r.authority } : {}),
    ...(r.port !== undefined ? { port_redirect: r.port } : {}),
    ...(r.uri !== undefined ? { path_redirect: r.uri } : {}),
    ...(r.code !== 301 ? { response_code: REDIRECT_CODE[r.code] } : {}),
  };
}

function perFilterConfig(http: HttpRoute, opts: RouteOptions): Route['typed_per_filter_config'] | undefined {
  const out: NonNullable<Route['typed_per_filter_config']> = {};
  const f = http.fault;
  if (f) {
    out[FAULT_FILTER] = {
      '@type': TYPED_CONFIG.fault,
      ...(f.delay ? { delay: { fixed_delay: durationFromMs(f.delay.ms), percentage: perMillion(f.delay.percent) } } : {}),
      ...(f.abort
        ? {
            abort: {
              ...(f.abort.httpStatus !== undefined ? { http_status: f.abort.httpStatus } : {}),
              ...(f.abort.grpcStatus !== undefined ? { grpc_status: f.abort.grpcStatus } : {}),
              percentage: perMillion(f.abort.percent),
            },
          }
        : {}),
    };
  }
  const c = http.corsPolicy;
  if (c && opts.cors) {
    out[CORS_FILTER] = {
      '@type': TYPED_CONFIG.corsPolicy,
      allow_origin_string_match: c.allowOrigins.map((o) => stringMatcher(o)).filter((x): x is StringMatcher => x !== undefined),
      ...(c.allowMethods.length > 0 ? { allow_methods: c.allowMethods.join(',') } : {}),
      ...(c.allowHeaders.length > 0 ? { allow_headers: c.allowHeaders.join(',') } : {}),
      ...(c.exposeHeaders.length > 0 ? { expose_headers: c.exposeHeaders.join(',') } : {}),
      ...(c.maxAgeSeconds !== undefined ? { max_age: String(c.maxAgeSeconds) } : {}),
      ...(c.allowCredentials !== undefined ? { allow_credentials: { value: c.allowCredentials } } : {}),
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** One Envoy route for one match block of an Istio rule. `cors`: whether the client runs the CORS filter. */
export function envoyRoute(snap: Snapshot, http: HttpRoute, m: HttpMatchRequest | undefined, hostname: string, port: number, opts: RouteOptions): Route {
  const name = [http.name, m?.name].filter((s): s is string => s !== undefined && s !== '').join('.');
  const route: Route = { ...(name !== '' ? { name } : {}), match: routeMatch(m) };
  if (http.redirect) route.redirect = redirectAction(http.redirect);
  else if (http.directResponse) {
    const d = http.directResponse;
    route.direct_response = { status: d.status, ...(d.body !== undefined ? { body: { inline_string: d.body } } : {}) };
  } else route.route = forwardAction(snap, http, hostname, port, opts);
  Object.assign(route, headerEdits(http.headers));
  const pf = perFilterConfig(http, opts);
  if (pf) route.typed_per_filter_config = pf;
  return route;
}
