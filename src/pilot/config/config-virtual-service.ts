import type { HeaderMatchDoc, StringMatchDoc, VirtualServiceSpecDoc } from './config-schema-virtual-service.ts';
import { GRPC_STATUS } from './config-schema-virtual-service.ts';
import { resolveHost, toExportTo } from './config-hosts.ts';
import type { HeaderOperations, HeadersConfig, HttpMatchRequest, HttpRetry, HttpRoute, RouteDestination, StringMatch, TcpRoute, TlsRoute, VirtualServiceSpec } from './config-types.ts';

/**
 * Validated VirtualService spec → Pilot's normalized form: hosts fully qualified in the config's
 * namespace, durations in milliseconds, deprecated fields folded into their successors
 * (`percent` → percentage, `mirror` → mirrors, `allowOrigin` → allowOrigins). Pure.
 */

type DurationMs = (text: string) => number;
type HttpRouteDoc = NonNullable<VirtualServiceSpecDoc['http']>[number];

function match(m: StringMatchDoc | HeaderMatchDoc): StringMatch {
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  if (m.regex !== undefined) return { regex: m.regex };
  return {};
}

function matches(rec: Record<string, StringMatchDoc | HeaderMatchDoc> | undefined): Record<string, StringMatch> {
  return Object.fromEntries(Object.entries(rec ?? {}).map(([k, v]) => [k, match(v)]));
}

function headerOps(o: { set?: Record<string, string> | undefined; add?: Record<string, string> | undefined; remove?: string[] | undefined } | undefined): HeaderOperations | undefined {
  if (!o) return undefined;
  return { set: { ...(o.set ?? {}) }, add: { ...(o.add ?? {}) }, remove: [...(o.remove ?? [])] };
}

type HeadersDoc = { request?: Parameters<typeof headerOps>[0]; response?: Parameters<typeof headerOps>[0] } | undefined;

function headers(h: HeadersDoc): HeadersConfig | undefined {
  if (!h) return undefined;
  const request = headerOps(h.request);
  const response = headerOps(h.response);
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

function dest(d: { host: string; subset?: string | undefined; port?: { number: number } | undefined }, ns: string, suffix: string): RouteDestination {
  return { host: resolveHost(d.host, ns, suffix), subset: d.subset ?? '', ...(d.port !== undefined ? { port: d.port.number } : {}) };
}

/** Istio's `retryOn`: Envoy conditions, and bare HTTP status codes that become retriable-status-codes. */
function retries(r: NonNullable<HttpRouteDoc['retries']>, durationMs: DurationMs): HttpRetry {
  const retryOn: string[] = [];
  const statusCodes: number[] = [];
  for (const c of (r.retryOn ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/^\d{3}$/.test(c)) statusCodes.push(Number(c));
    else retryOn.push(c);
  }
  if (statusCodes.length > 0 && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  return {
    attempts: r.attempts,
    retryOn,
    statusCodes,
    ...(r.perTryTimeout !== undefined ? { perTryTimeoutMs: durationMs(r.perTryTimeout) } : {}),
    ...(r.retryRemoteLocalities === true ? { remoteLocalities: true } : {}),
  };
}

function percentOf(p: { value: number } | undefined, legacy: number | undefined): number {
  return p !== undefined ? p.value : (legacy ?? 100);
}

function httpRoute(r: HttpRouteDoc, ns: string, suffix: string, durationMs: DurationMs): HttpRoute {
  const route = r.route ?? [];
  const out: HttpRoute = {
    ...(r.name !== undefined ? { name: r.name } : {}),
    match: (r.match ?? []).map(
      (m): HttpMatchRequest => ({
        ...(m.name !== undefined ? { name: m.name } : {}),
        ...(m.uri !== undefined ? { uri: match(m.uri) } : {}),
        ...(m.scheme !== undefined ? { scheme: match(m.scheme) } : {}),
        ...(m.method !== undefined ? { method: match(m.method) } : {}),
        ...(m.authority !== undefined ? { authority: match(m.authority) } : {}),
        headers: matches(m.headers),
        withoutHeaders: matches(m.withoutHeaders),
        queryParams: matches(m.queryParams),
        ignoreUriCase: m.ignoreUriCase === true,
        ...(m.port !== undefined ? { port: m.port } : {}),
        ...(m.sourceLabels !== undefined ? { sourceLabels: { ...m.sourceLabels } } : {}),
        ...(m.sourceNamespace !== undefined ? { sourceNamespace: m.sourceNamespace } : {}),
      }),
    ),
    route: route.map((d) => {
      const h = headers(d.headers);
      return { destination: dest(d.destination, ns, suffix), weight: route.length === 1 ? 100 : (d.weight ?? 0), ...(h ? { headers: h } : {}) };
    }),
    mirrors: r.mirror
      ? [{ destination: dest(r.mirror, ns, suffix), percent: percentOf(r.mirrorPercentage, r.mirrorPercent) }]
      : (r.mirrors ?? []).map((m) => ({ destination: dest(m.destination, ns, suffix), percent: percentOf(m.percentage, undefined) })),
  };
  if (r.redirect) {
    const d = r.redirect;
    out.redirect = {
      code: (d.redirectCode ?? 301) as 301 | 302 | 303 | 307 | 308,
      ...(d.uri !== undefined ? { uri: d.uri } : {}),
      ...(d.authority !== undefined ? { authority: d.authority } : {}),
      ...(d.port !== undefined ? { port: d.port } : {}),
      ...(d.scheme !== undefined ? { scheme: d.scheme } : {}),
    };
  }
  if (r.directResponse) {
    const b = r.directResponse.body;
    const body = b?.string ?? (b?.bytes !== undefined ? Buffer.from(b.bytes, 'base64').toString('utf8') : undefined);
    out.directResponse = { status: r.directResponse.status, ...(body !== undefined ? { body } : {}) };
  }
  if (r.rewrite) {
    const w = r.rewrite;
    out.rewrite = {
      ...(w.uri !== undefined ? { uri: w.uri } : {}),
      ...(w.uriRegexRewrite !== undefined ? { uriRegex: { ...w.uriRegexRewrite } } : {}),
      ...(w.authority !== undefined ? { authority: w.authority } : {}),
    };
  }
  if (r.timeout !== undefined) out.timeoutMs = durationMs(r.timeout);
  if (r.retries) out.retries = retries(r.retries, durationMs);
  if (r.fault) {
    const { delay, abort } = r.fault;
    out.fault = {
      ...(delay ? { delay: { ms: durationMs(delay.fixedDelay), percent: percentOf(delay.percentage, delay.percent) } } : {}),
      ...(abort
        ? {
            abort: {
              percent: percentOf(abort.percentage, undefined),
              ...(abort.httpStatus !== undefined ? { httpStatus: abort.httpStatus } : {}),
              ...(abort.grpcStatus !== undefined ? { grpcStatus: GRPC_STATUS[abort.grpcStatus] ?? 2 } : {}),
            },
          }
        : {}),
    };
  }
  if (r.corsPolicy) {
    const c = r.corsPolicy;
    out.corsPolicy = {
      allowOrigins: [...(c.allowOrigins ?? []).map(match), ...(c.allowOrigin ?? []).map((o) => ({ exact: o }))],
      allowMethods: c.allowMethods ?? [],
      allowHeaders: c.allowHeaders ?? [],
      exposeHeaders: c.exposeHeaders ?? [],
      ...(c.maxAge !== undefined ? { maxAgeSeconds: Math.floor(durationMs(c.maxAge) / 1000) } : {}),
      ...(c.allowCredentials !== undefined ? { allowCredentials: c.allowCredentials } : {}),
    };
  }
  const h = headers(r.headers);
  if (h) out.headers = h;
  return out;
}

function tcpRoute(r: NonNullable<VirtualServiceSpecDoc['tcp']>[number], ns: string, suffix: string): TcpRoute {
  return {
    match: (r.match ?? []).map((m) => ({
      ...(m.port !== undefined ? { port: m.port } : {}),
      ...(m.sourceLabels !== undefined ? { sourceLabels: { ...m.sourceLabels } } : {}),
      ...(m.sourceNamespace !== undefined ? { sourceNamespace: m.sourceNamespace } : {}),
    })),
    route: r.route.map((d) => ({ destination: dest(d.destination, ns, suffix), weight: r.route.length === 1 ? 100 : (d.weight ?? 0) })),
  };
}

function tlsRoute(r: NonNullable<VirtualServiceSpecDoc['tls']>[number], ns: string, suffix: string): TlsRoute {
  return {
    match: r.match.map((m) => ({
      sniHosts: [...m.sniHosts],
      ...(m.port !== undefined ? { port: m.port } : {}),
      ...(m.sourceLabels !== undefined ? { sourceLabels: { ...m.sourceLabels } } : {}),
      ...(m.sourceNamespace !== undefined ? { sourceNamespace: m.sourceNamespace } : {}),
    })),
    route: r.route.map((d) => ({ destination: dest(d.destination, ns, suffix), weight: r.route.length === 1 ? 100 : (d.weight ?? 0) })),
  };
}

/** Istio's host.Name.SubsetOf: equal, or covered by a wildcard `*.suffix` (a wildcard only by a wider wildcard). */
function subsetOf(sni: string, host: string): boolean {
  if (!host.startsWith('*')) return sni === host;
  const suffix = host.slice(1);
  return sni.startsWith('*') ? sni.slice(1).endsWith(suffix) : sni.endsWith(suffix);
}

/**
 * Istio's `validateSniHost`: every `sniHosts` entry must be a subset of one of the
 * VirtualService's hosts (equal to it, or under a wildcard host). meshfed also compares the
 * forms qualified in the config's namespace, so `sniHosts: [db.shop.svc.cluster.local]` fits
 * `hosts: [db]` in namespace shop. Returns one issue per misfit, with its path under `spec`.
 */
export function sniHostIssues(spec: VirtualServiceSpecDoc, ns: string, suffix: string): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const qualified = spec.hosts.map((h) => resolveHost(h, ns, suffix));
  (spec.tls ?? []).forEach((rule, ri) => {
    rule.match.forEach((m, mi) => {
      m.sniHosts.forEach((sni, si) => {
        const fits = spec.hosts.some((h) => subsetOf(sni, h)) || qualified.some((h) => subsetOf(resolveHost(sni, ns, suffix), h));
        if (!fits) out.push({ path: ['tls', ri, 'match', mi, 'sniHosts', si], message: `the SNI host "${sni}" is not a match for any of the VirtualService hosts` });
      });
    });
  });
  return out;
}

export function toVirtualServiceSpec(spec: VirtualServiceSpecDoc, ns: string, suffix: string, durationMs: DurationMs): VirtualServiceSpec {
  return {
    exportTo: toExportTo(spec.exportTo, ns),
    hosts: spec.hosts.map((h) => resolveHost(h, ns, suffix)),
    gateways: spec.gateways ?? ['mesh'],
    http: (spec.http ?? []).map((r) => httpRoute(r, ns, suffix, durationMs)),
    tcp: (spec.tcp ?? []).map((r) => tcpRoute(r, ns, suffix)),
    tls: (spec.tls ?? []).map((r) => tlsRoute(r, ns, suffix)),
  };
}
