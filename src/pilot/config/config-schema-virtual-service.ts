import { z } from 'zod';
import { exportTo } from './config-export-to.ts';

/**
 * The VirtualService spec as Istio's networking API defines it (v1, v1beta1, v1alpha3), strict:
 * a field meshfed does not know is reported with its path. `params.unsupported` marks valid Istio
 * that meshfed does not honour yet.
 */

const UNSUPPORTED = { unsupported: true } as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DURATION = /^(\d+(\.\d+)?)(ms|s|m|h)$/;

const dnsLabel = z.string().max(63).regex(DNS_LABEL, 'must be a DNS label (lower-case letters, digits, -)');
const duration = z.string().regex(DURATION, 'must be a duration such as 5s or 250ms');
const stringMap = z.record(z.string(), z.string());
const port = z.int('must be a port 1..65535').min(1, 'must be a port 1..65535').max(65535, 'must be a port 1..65535');

export const host = z
  .string()
  .min(1, 'must not be empty')
  .refine((h) => !h.includes('*'), { message: 'wildcard hosts are not supported yet', params: UNSUPPORTED })
  .refine((h) => DNS_SUBDOMAIN.test(h), 'must be a host name (lower-case letters, digits, -, .)');

function validRegex(r: string): boolean {
  try {
    new RegExp(r, 'u');
    return true;
  } catch {
    return false;
  }
}

/** Istio StringMatch: exactly one of exact, prefix, regex (RE2, full match). */
export const stringMatch = z
  .strictObject({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().refine(validRegex, 'must be a valid regular expression').optional(),
  })
  .superRefine((v, ctx) => {
    const n = [v.exact, v.prefix, v.regex].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of exact, prefix, regex must be set' });
  });

/** Header matches also allow `{}`: the header must be present (Istio's presence match). */
const headerMatch = z
  .strictObject({
    exact: z.string().optional(),
    prefix: z.string().optional(),
    regex: z.string().refine(validRegex, 'must be a valid regular expression').optional(),
  })
  .superRefine((v, ctx) => {
    const n = [v.exact, v.prefix, v.regex].filter((x) => x !== undefined).length;
    if (n > 1) ctx.addIssue({ code: 'custom', message: 'at most one of exact, prefix, regex may be set' });
  });

const headerName = z.string().regex(/^[a-z0-9-]+$/, 'header names must be lower-case');

const httpMatch = z.strictObject({
  name: z.string().optional(),
  uri: stringMatch.optional(),
  scheme: stringMatch.optional(),
  method: stringMatch.optional(),
  authority: stringMatch.optional(),
  headers: z.record(headerName, headerMatch).optional(),
  withoutHeaders: z.record(headerName, headerMatch).optional(),
  queryParams: z.record(z.string().min(1), headerMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  port: port.optional(),
  sourceLabels: stringMap.optional(),
  sourceNamespace: dnsLabel.optional(),
  gateways: z.array(z.string()).optional().refine((g) => g === undefined || g.every((x) => x === 'mesh'), {
    message: 'only "mesh" is supported; gateway-bound matches are not supported yet',
    params: UNSUPPORTED,
  }),
  statPrefix: z.string().optional().refine((v) => v === undefined, { message: 'statPrefix is not supported yet', params: UNSUPPORTED }),
});

export const destination = z.strictObject({
  host,
  subset: dnsLabel.optional(),
  port: z.strictObject({ number: port }).optional(),
});

const headerOperations = z.strictObject({
  set: z.record(headerName, z.string()).optional(),
  add: z.record(headerName, z.string()).optional(),
  remove: z.array(headerName).optional(),
});
const headers = z.strictObject({ request: headerOperations.optional(), response: headerOperations.optional() });

const WEIGHT_MSG = 'must be an integer 0..100';
const weight = z.int(WEIGHT_MSG).min(0, WEIGHT_MSG).max(100, WEIGHT_MSG);
const percent = z.strictObject({ value: z.number().min(0, 'must be 0..100').max(100, 'must be 0..100') });

const routeDestination = z.strictObject({ destination, weight: weight.optional(), headers: headers.optional() });

/** gRPC status names Istio accepts in `fault.abort.grpcStatus`. */
export const GRPC_STATUS: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

const fault = z
  .strictObject({
    delay: z
      .strictObject({
        fixedDelay: duration,
        percentage: percent.optional(),
        percent: z.int().min(0).max(100).optional(),
      })
      .optional(),
    abort: z
      .strictObject({
        httpStatus: z.int('must be an HTTP status 200..599').min(200, 'must be an HTTP status 200..599').max(599, 'must be an HTTP status 200..599').optional(),
        grpcStatus: z.enum(Object.keys(GRPC_STATUS) as [string, ...string[]], 'must be a gRPC status name such as UNAVAILABLE').optional(),
        http2Error: z.string().optional().refine((v) => v === undefined, { message: 'http2Error aborts are not supported yet', params: UNSUPPORTED }),
        percentage: percent.optional(),
      })
      .superRefine((a, ctx) => {
        if ((a.httpStatus === undefined) === (a.grpcStatus === undefined) && a.http2Error === undefined) {
          ctx.addIssue({ code: 'custom', message: 'exactly one of httpStatus, grpcStatus must be set' });
        }
      })
      .optional(),
  })
  .superRefine((f, ctx) => {
    if (!f.delay && !f.abort) ctx.addIssue({ code: 'custom', message: 'one of delay, abort must be set' });
  });

const retries = z.strictObject({
  attempts: z.int('must be an integer >= 0').min(0, 'must be an integer >= 0').max(100, 'must be at most 100'),
  perTryTimeout: duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
});

const corsPolicy = z.strictObject({
  allowOrigins: z.array(stringMatch).optional(),
  allowOrigin: z.array(z.string()).optional(),
  allowMethods: z.array(z.string()).optional(),
  allowHeaders: z.array(z.string()).optional(),
  exposeHeaders: z.array(z.string()).optional(),
  maxAge: duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z
    .enum(['UNSPECIFIED', 'FORWARD', 'IGNORE'])
    .optional()
    .refine((v) => v === undefined || v === 'UNSPECIFIED' || v === 'FORWARD', { message: 'IGNORE is not supported yet', params: UNSUPPORTED }),
});

const REDIRECT_CODES = [301, 302, 303, 307, 308];
const redirect = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: port.optional(),
  derivePort: z
    .enum(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'])
    .optional()
    .refine((v) => v === undefined || v === 'FROM_PROTOCOL_DEFAULT', { message: 'FROM_REQUEST_PORT is not supported yet', params: UNSUPPORTED }),
  scheme: z.string().optional(),
  redirectCode: z.int().refine((c) => REDIRECT_CODES.includes(c), `must be one of ${REDIRECT_CODES.join(', ')}`).optional(),
});

const directResponse = z.strictObject({
  status: z.int('must be an HTTP status 200..599').min(200, 'must be an HTTP status 200..599').max(599, 'must be an HTTP status 200..599'),
  body: z
    .strictObject({ string: z.string().optional(), bytes: z.base64('must be base64').optional() })
    .superRefine((b, ctx) => {
      if ((b.string === undefined) === (b.bytes === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of string, bytes must be set' });
    })
    .optional(),
});

const rewrite = z
  .strictObject({
    uri: z.string().optional(),
    uriRegexRewrite: z.strictObject({ match: z.string().refine(validRegex, 'must be a valid regular expression'), rewrite: z.string() }).optional(),
    authority: z.string().optional(),
  })
  .superRefine((r, ctx) => {
    if (r.uri !== undefined && r.uriRegexRewrite !== undefined) ctx.addIssue({ code: 'custom', message: 'uri and uriRegexRewrite are exclusive' });
  });

const httpRoute = z
  .strictObject({
    name: z.string().optional(),
    match: z.array(httpMatch).optional(),
    route: z.array(routeDestination).optional(),
    redirect: redirect.optional(),
    directResponse: directResponse.optional(),
    rewrite: rewrite.optional(),
    timeout: duration.optional(),
    retries: retries.optional(),
    fault: fault.optional(),
    mirror: destination.optional(),
    mirrorPercentage: percent.optional(),
    mirrorPercent: z.int().min(0).max(100).optional(),
    mirrors: z.array(z.strictObject({ destination, percentage: percent.optional() })).optional(),
    corsPolicy: corsPolicy.optional(),
    headers: headers.optional(),
  })
  .superRefine((r, ctx) => {
    const actions = [r.route !== undefined && r.route.length > 0, r.redirect !== undefined, r.directResponse !== undefined].filter(Boolean).length;
    if (actions !== 1) ctx.addIssue({ code: 'custom', message: 'exactly one of route, redirect, directResponse is required' });
    if (r.route !== undefined && r.route.length === 0) ctx.addIssue({ code: 'custom', path: ['route'], message: 'at least one destination is required' });
    if (r.redirect && (r.rewrite || r.mirror || r.mirrors)) ctx.addIssue({ code: 'custom', message: 'redirect cannot be combined with rewrite or mirror' });
    if (r.mirror && r.mirrors) ctx.addIssue({ code: 'custom', path: ['mirrors'], message: 'mirror and mirrors are exclusive' });
    if ((r.mirrorPercentage || r.mirrorPercent !== undefined) && !r.mirror) ctx.addIssue({ code: 'custom', path: ['mirrorPercentage'], message: 'needs mirror' });
    const route = r.route ?? [];
    if (route.length < 2) return;
    let sum = 0;
    let missing = false;
    route.forEach((d, i) => {
      if (d.weight === undefined) {
        missing = true;
        ctx.addIssue({ code: 'custom', path: ['route', i, 'weight'], message: 'required when a route has several destinations' });
      } else sum += d.weight;
    });
    if (!missing && sum !== 100) ctx.addIssue({ code: 'custom', path: ['route'], message: `weights must sum to 100 (they sum to ${sum})` });
  });

/**
 * A `tcp` route's match (Istio L4MatchAttributes). Pilot applies port, sourceLabels and
 * sourceNamespace per proxy. destinationSubnets and sourceSubnet are refused: without traffic
 * capture a connection's destination is always its own sidecar's address.
 */
const l4Match = z.strictObject({
  port: port.optional(),
  sourceLabels: stringMap.optional(),
  sourceNamespace: dnsLabel.optional(),
  destinationSubnets: z
    .array(z.string())
    .optional()
    .refine((v) => v === undefined || v.length === 0, {
      message: 'destinationSubnets are not supported (without capture the destination is always the sidecar itself)',
      params: UNSUPPORTED,
    }),
  sourceSubnet: z.string().optional().refine((v) => v === undefined, { message: 'sourceSubnet is not supported yet', params: UNSUPPORTED }),
  gateways: z.array(z.string()).optional().refine((g) => g === undefined || g.every((x) => x === 'mesh'), {
    message: 'only "mesh" is supported; gateway-bound matches are not supported yet',
    params: UNSUPPORTED,
  }),
});

const tcpRouteDestination = z.strictObject({ destination, weight: weight.optional() });

/** Weights of several destinations are required and sum to 100, as for http routes. */
function refineWeights(route: readonly { weight?: number | undefined }[], ctx: z.RefinementCtx): void {
  if (route.length < 2) return;
  let sum = 0;
  let missing = false;
  route.forEach((d, i) => {
    if (d.weight === undefined) {
      missing = true;
      ctx.addIssue({ code: 'custom', path: ['route', i, 'weight'], message: 'required when a route has several destinations' });
    } else sum += d.weight;
  });
  if (!missing && sum !== 100) ctx.addIssue({ code: 'custom', path: ['route'], message: `weights must sum to 100 (they sum to ${sum})` });
}

const tcpRoute = z
  .strictObject({
    match: z.array(l4Match).optional(),
    route: z.array(tcpRouteDestination).min(1, 'at least one destination is required'),
  })
  .superRefine((r, ctx) => refineWeights(r.route, ctx));

/** An SNI host as Istio validates it: a DNS name, or a wildcard `*.suffix` (lower case). */
const sniHost = z
  .string()
  .min(1, 'must not be empty')
  .refine((h) => DNS_SUBDOMAIN.test(h.startsWith('*.') ? h.slice(2) : h), 'must be a host name or a wildcard *.suffix (lower-case letters, digits, -, .)');

/**
 * A `tls` route's match (Istio TLSMatchAttributes): `sniHosts` required, and the L4 fields that
 * Pilot applies per proxy. destinationSubnets is refused as for tcp routes.
 */
const tlsMatch = z.strictObject({
  sniHosts: z.array(sniHost).min(1, 'at least one SNI host is required'),
  port: port.optional(),
  sourceLabels: stringMap.optional(),
  sourceNamespace: dnsLabel.optional(),
  destinationSubnets: z
    .array(z.string())
    .optional()
    .refine((v) => v === undefined || v.length === 0, {
      message: 'destinationSubnets are not supported (without capture the destination is always the sidecar itself)',
      params: UNSUPPORTED,
    }),
  gateways: z.array(z.string()).optional().refine((g) => g === undefined || g.every((x) => x === 'mesh'), {
    message: 'only "mesh" is supported; gateway-bound matches are not supported yet',
    params: UNSUPPORTED,
  }),
});

const tlsRoute = z
  .strictObject({
    match: z.array(tlsMatch).min(1, 'at least one match is required (tls routes match by SNI)'),
    route: z.array(tcpRouteDestination).min(1, 'at least one destination is required'),
  })
  .superRefine((r, ctx) => refineWeights(r.route, ctx));

export const virtualServiceSpecSchema = z.strictObject({
  hosts: z.array(host).min(1, 'at least one host is required'),
  gateways: z
    .array(
      z.string().refine((g) => g === 'mesh', {
        message: 'only "mesh" is supported; gateway-bound VirtualServices are not supported yet',
        params: UNSUPPORTED,
      }),
    )
    .optional(),
  http: z.array(httpRoute).optional(),
  tcp: z.array(tcpRoute).optional(),
  tls: z.array(tlsRoute).optional(),
  exportTo,
}).superRefine((s, ctx) => {
  if ((s.http ?? []).length === 0 && (s.tcp ?? []).length === 0 && (s.tls ?? []).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['http'], message: 'at least one http, tcp or tls route is required' });
  }
});

export type VirtualServiceSpecDoc = z.infer<typeof virtualServiceSpecSchema>;
export type StringMatchDoc = z.infer<typeof stringMatch>;
export type HeaderMatchDoc = z.infer<typeof headerMatch>;
