import type { DestinationRuleConfig, HttpRoute, TrafficPolicySections, VirtualServiceConfig } from '../config/config-types.ts';
import { configKey } from '../config/config-types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { consecutiveErrorThreshold } from './generator-proxyless-policy.ts';

/**
 * Configuration that a proxyless `@grpc/grpc-js-xds` client cannot honour as a sidecar would, found
 * in one snapshot. Pure. A VirtualService or DestinationRule applies to sidecars and proxyless
 * clients alike, so such a field cannot be refused when it is parsed; instead Pilot reports each
 * finding (log, `/debug/configz`, a metric; src/pilot/server) so that no proxyless client is given
 * a policy it drops without a word. Each finding says what the client does instead:
 * - `ignored`: the field is in the xDS the client gets (as Istio writes it) and the client skips it;
 * - `not-sent`: meshfed leaves it out because the client would NACK it or cannot use it;
 * - `approximated`: the client gets the nearest policy it has (described in the message);
 * - `nacked`: the client NACKs the whole resource (as with Istio): the host's routes fail for it.
 */
export interface ProxylessFinding {
  /** `VirtualService default/reviews` */
  object: string;
  /** Field path under the object, e.g. `spec.http[0].mirror`. */
  path: string;
  effect: 'ignored' | 'not-sent' | 'approximated' | 'nacked';
  message: string;
}

const GRPC_RETRY_ON: ReadonlySet<string> = new Set(['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable']);

function routeFindings(vs: VirtualServiceConfig, http: HttpRoute, i: number, out: ProxylessFinding[]): void {
  const object = configKey(vs);
  const at = `spec.http[${i}]`;
  const add = (path: string, effect: ProxylessFinding['effect'], message: string) => out.push({ object, path: `${at}${path}`, effect, message });
  http.match.forEach((m, j) => {
    for (const k of ['scheme', 'method', 'authority'] as const) {
      if (m[k] !== undefined) add(`.match[${j}].${k}`, 'ignored', `grpc-js-xds matches no pseudo-header (:${k}): this match block never matches a proxyless call`);
    }
    for (const name of Object.keys(m.headers)) {
      if (name.endsWith('-bin')) add(`.match[${j}].headers.${name}`, 'ignored', 'grpc-js-xds never matches binary (-bin) metadata: this match block never matches a proxyless call');
    }
    if (Object.keys(m.queryParams).length > 0) {
      add(`.match[${j}].queryParams`, 'not-sent', 'a gRPC call has no query string: the block is left out of proxyless routes (it could never match)');
    }
  });
  if (http.redirect) add('.redirect', 'nacked', 'grpc-js-xds NACKs a RouteConfiguration with a redirect: proxyless calls to this host fail');
  if (http.directResponse) add('.directResponse', 'nacked', 'grpc-js-xds NACKs a RouteConfiguration with a direct response: proxyless calls to this host fail');
  if (http.rewrite) add('.rewrite', 'ignored', 'grpc-js-xds does not rewrite the path or authority');
  if (http.mirrors.length > 0) add('.mirror', 'ignored', 'grpc-js-xds does not mirror calls');
  if (http.corsPolicy) add('.corsPolicy', 'not-sent', 'grpc-js-xds has no CORS filter');
  if (http.headers) add('.headers', 'ignored', 'grpc-js-xds does not edit request or response headers');
  http.route.forEach((d, j) => {
    if (d.headers) add(`.route[${j}].headers`, 'ignored', 'grpc-js-xds does not edit request or response headers');
  });
  const r = http.retries;
  if (r && r.attempts > 0) {
    const dropped = r.retryOn.filter((c) => !GRPC_RETRY_ON.has(c));
    if (dropped.length > 0) {
      const none = dropped.length === r.retryOn.length;
      add(
        '.retries.retryOn',
        'ignored',
        `grpc-js-xds retries only on ${[...GRPC_RETRY_ON].join(', ')}; it ignores ${dropped.join(', ')}${none ? ' (so it never retries these calls)' : ''}`,
      );
    }
    if (r.statusCodes.length > 0) add('.retries.retryOn', 'ignored', `grpc-js-xds ignores retriable HTTP status codes (${r.statusCodes.join(', ')})`);
    if (r.perTryTimeoutMs !== undefined) add('.retries.perTryTimeout', 'ignored', 'grpc-js-xds has no per-try timeout');
    if (r.remoteLocalities === true) add('.retries.retryRemoteLocalities', 'ignored', 'grpc-js-xds has no retry priority: its retries keep the normal priority load');
  }
}

function policyFindings(dr: DestinationRuleConfig, at: string, p: TrafficPolicySections | undefined, out: ProxylessFinding[]): void {
  if (!p) return;
  const object = configKey(dr);
  const add = (path: string, effect: ProxylessFinding['effect'], message: string) => out.push({ object, path: `${at}${path}`, effect, message });
  const lb = p.loadBalancer;
  if (lb?.simple === 'LEAST_REQUEST' || lb?.simple === 'RANDOM') {
    add('.loadBalancer.simple', 'not-sent', `grpc-js-xds NACKs lb_policy ${lb.simple}: proxyless clients get ROUND_ROBIN`);
  }
  const ch = lb?.consistentHash;
  if (ch?.algorithm.kind === 'maglev') add('.loadBalancer.consistentHash.maglev', 'approximated', 'grpc-js-xds NACKs MAGLEV: proxyless clients get RING_HASH on the same key');
  if (ch && ch.key.kind !== 'header') {
    add('.loadBalancer.consistentHash', 'ignored', `grpc-js-xds hashes headers only: with a ${ch.key.kind} key each proxyless call picks a random point of the ring`);
  }
  const cp = p.connectionPool;
  const unsentPool = [
    ...(cp?.tcp?.maxConnections ? ['tcp.maxConnections'] : []),
    ...(cp?.tcp?.connectTimeoutMs !== undefined ? ['tcp.connectTimeout'] : []),
    ...(cp?.http?.http1MaxPendingRequests ? ['http.http1MaxPendingRequests'] : []),
    ...(cp?.http?.maxRequestsPerConnection ? ['http.maxRequestsPerConnection'] : []),
    ...(cp?.http?.maxRetries ? ['http.maxRetries'] : []),
    ...(cp?.http?.idleTimeoutMs !== undefined ? ['http.idleTimeout'] : []),
  ];
  for (const f of unsentPool) add(`.connectionPool.${f}`, 'not-sent', 'grpc-js-xds honours only http.http2MaxRequests (gRFC A32)');
  const od = p.outlierDetection;
  if (od) {
    if (consecutiveErrorThreshold(od) === undefined) {
      add('.outlierDetection', 'not-sent', 'no consecutive error threshold is set: proxyless clients get no outlier detection');
    } else {
      add(
        '.outlierDetection',
        'approximated',
        'gRPC has no consecutive-error ejection: proxyless clients eject an endpoint when more than 99% of at least N calls in one interval fail (any non-OK status)',
      );
    }
    if (od.minHealthPercent !== undefined && od.minHealthPercent > 0) add('.outlierDetection.minHealthPercent', 'not-sent', 'grpc-js-xds has no panic threshold');
  }
}

function ruleFindings(dr: DestinationRuleConfig, out: ProxylessFinding[]): void {
  const tp = dr.spec.trafficPolicy;
  policyFindings(dr, 'spec.trafficPolicy', tp, out);
  tp?.portLevelSettings.forEach((p, i) => {
    policyFindings(dr, `spec.trafficPolicy.portLevelSettings[${i}]`, p, out);
  });
  dr.spec.subsets.forEach((s, i) => {
    const st = s.trafficPolicy;
    policyFindings(dr, `spec.subsets[${i}].trafficPolicy`, st, out);
    st?.portLevelSettings.forEach((p, j) => {
      policyFindings(dr, `spec.subsets[${i}].trafficPolicy.portLevelSettings[${j}]`, p, out);
    });
  });
}

/** Every finding of the snapshot, sorted by object then path. */
export function proxylessFindings(snap: Snapshot): ProxylessFinding[] {
  const out: ProxylessFinding[] = [];
  // A VirtualService is indexed once per host: each object is read once.
  for (const vs of new Set(snap.virtualServices.values())) {
    vs.spec.http.forEach((h, i) => {
      routeFindings(vs, h, i, out);
    });
  }
  for (const dr of new Set(snap.destinationRules.values())) ruleFindings(dr, out);
  return out.sort((a, b) => (a.object === b.object ? (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) : a.object < b.object ? -1 : 1));
}

/** `VirtualService default/reviews spec.http[0].mirror: ignored by proxyless clients: …` */
export function formatFinding(f: ProxylessFinding): string {
  return `${f.object} ${f.path}: ${f.effect} for proxyless gRPC clients: ${f.message}`;
}
