import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fail, ok, type Result } from '../../common/result.ts';
import { ConfigError, formatPath } from './config-error.ts';

/**
 * The subset of Istio's MeshConfig (`meshConfig` of istiod's values, the `mesh` key of the `istio`
 * ConfigMap; camelCase) that meshfed honours, read from `--mesh-config FILE`. Every field is
 * checked once here; a field meshfed does not implement, and any field nobody knows, is refused
 * with its path (`extensionProviders[0].zipkin: ... is not supported`), never ignored.
 */

/** Istio's `meshConfig.pathNormalization.normalization` options (see dataplane/http/path-normalize.ts). */
export const PATH_NORMALIZATIONS = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'] as const;
export type MeshPathNormalization = (typeof PATH_NORMALIZATIONS)[number];

/** One `extensionProviders[]` entry of kind `envoyExtAuthzGrpc` (the only kind meshfed serves). */
export interface ExtAuthzGrpcProvider {
  readonly name: string;
  /** The provider's service host (`ext-authz.foo.svc.cluster.local`, or a ServiceEntry host). */
  readonly service: string;
  readonly port: number;
  /** Istio's default 600 s; the request waits at most this long for the Check. */
  readonly timeoutMs: number;
  /** On a timeout or failed Check: let the request on (true) or answer 403 (false, the default). */
  readonly failOpen: boolean;
  /** Lower-case names of the request headers sent in the Check; absent: every header, as Istio. */
  readonly includeRequestHeadersInCheck?: readonly string[];
}

/** The validated mesh config; every field has its Istio default when the file leaves it out. */
export interface MeshConfig {
  /** Where mesh-wide policies live; Istio's default `istio-system`. */
  readonly rootNamespace: string;
  /** Absent: the control plane's `--trust-domain`. */
  readonly trustDomain?: string;
  /** Trust domains treated as the mesh's own (peers and AuthorizationPolicy principals). */
  readonly trustDomainAliases: readonly string[];
  readonly pathNormalization: MeshPathNormalization;
  readonly extensionProviders: readonly ExtAuthzGrpcProvider[];
}

export const DEFAULT_MESH_CONFIG: MeshConfig = Object.freeze({
  rootNamespace: 'istio-system',
  trustDomainAliases: Object.freeze([]),
  pathNormalization: 'BASE',
  extensionProviders: Object.freeze([]),
});

const UNSUPPORTED = { unsupported: true } as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const TRUST_DOMAIN = /^[a-z0-9.\-_]+$/;
const DURATION = /^(\d+(\.\d+)?)(ms|s|m|h)$/;

const trustDomain = z.string().regex(TRUST_DOMAIN, 'must be a SPIFFE trust domain (lower-case letters, digits, . - _)');
const duration = z.string().regex(DURATION, 'must be a duration such as 5s or 250ms');

function ms(text: string): number {
  const m = DURATION.exec(text);
  const n = Number(m?.[1] ?? 0);
  const unit = m?.[3];
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

/** Provider kinds Istio defines that meshfed does not serve: refused with their path. */
const OTHER_PROVIDER_KINDS = [
  'envoyExtAuthzHttp',
  'zipkin',
  'datadog',
  'stackdriver',
  'opencensus',
  'skywalking',
  'opentelemetry',
  'prometheus',
  'envoyFileAccessLog',
  'envoyHttpAls',
  'envoyTcpAls',
  'envoyOtelAls',
  'lightstep',
  'sds',
] as const;

const notSupported = (what: string) => z.unknown().refine((v) => v === undefined, { message: `${what} is not supported`, params: UNSUPPORTED });

const extAuthzGrpc = z.strictObject({
  service: z.string().min(1, 'required'),
  port: z.int('must be a port number 1..65535').min(1, 'must be a port number 1..65535').max(65535, 'must be a port number 1..65535'),
  timeout: duration.refine((d) => ms(d) > 0, 'must be positive').optional(),
  failOpen: z.boolean().optional(),
  includeRequestHeadersInCheck: z.array(z.string().min(1, 'must not be empty')).optional(),
  statusOnError: notSupported('statusOnError (meshfed answers 403 when the Check fails)'),
  clearRouteCache: notSupported('clearRouteCache'),
  includeRequestBody: notSupported('includeRequestBody'),
  includeAdditionalHeadersInCheck: notSupported('includeAdditionalHeadersInCheck'),
  headersToUpstreamOnAllow: notSupported('headersToUpstreamOnAllow'),
  headersToDownstreamOnDeny: notSupported('headersToDownstreamOnDeny'),
  pathPrefix: notSupported('pathPrefix'),
});

const provider = z
  .strictObject({
    name: z.string().min(1, 'required'),
    envoyExtAuthzGrpc: extAuthzGrpc.optional(),
    ...Object.fromEntries(OTHER_PROVIDER_KINDS.map((k) => [k, notSupported(`provider kind ${k}`)])),
  })
  .superRefine((p, ctx) => {
    const kinds = OTHER_PROVIDER_KINDS.filter((k) => (p as Record<string, unknown>)[k] !== undefined);
    if (p.envoyExtAuthzGrpc === undefined && kinds.length === 0) ctx.addIssue({ code: 'custom', path: ['envoyExtAuthzGrpc'], message: 'required (the only provider kind meshfed serves)' });
  });

const meshConfigSchema = z
  .strictObject({
    rootNamespace: z.string().regex(DNS_LABEL, 'must be a DNS label (a namespace name)').optional(),
    trustDomain: trustDomain.optional(),
    trustDomainAliases: z.array(trustDomain).optional(),
    pathNormalization: z
      .strictObject({ normalization: z.enum(PATH_NORMALIZATIONS, `must be one of ${PATH_NORMALIZATIONS.join(', ')}`).optional() })
      .optional(),
    extensionProviders: z.array(provider).optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    (m.extensionProviders ?? []).forEach((p, i) => {
      if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: ['extensionProviders', i, 'name'], message: `provider ${p.name} is defined twice` });
      seen.add(p.name);
    });
    // Checked in full above, so that the file's problems are all reported at once; but nothing
    // uses a provider until AuthorizationPolicy CUSTOM exists, so a provider is refused, not ignored.
    if ((m.extensionProviders ?? []).length > 0) {
      ctx.addIssue({ code: 'custom', path: ['extensionProviders'], message: 'is not supported yet: AuthorizationPolicy CUSTOM (ext_authz) is not implemented', params: UNSUPPORTED });
    }
  });

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates an already-decoded mesh config value (the YAML document's value). */
export function parseMeshConfigValue(value: unknown, source: string): Result<MeshConfig, ConfigError[]> {
  const err = (path: string, message: string, unsupported = false): ConfigError =>
    new ConfigError({ code: unsupported ? 'CONFIG_UNSUPPORTED' : 'CONFIG_INVALID', source, kind: 'MeshConfig', path, message });
  if (value === null || value === undefined) return ok(DEFAULT_MESH_CONFIG);
  if (!isRecord(value)) return fail([err('', 'the mesh config must be a mapping (Istio meshConfig fields)')]);
  const r = meshConfigSchema.safeParse(value);
  if (!r.success) {
    const out: ConfigError[] = [];
    for (const issue of r.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) out.push(err(formatPath([...issue.path, key]), 'is not supported (unknown or unimplemented mesh config field)', true));
        continue;
      }
      const unsupported = issue.code === 'custom' && isRecord(issue.params) && issue.params['unsupported'] === true;
      out.push(err(formatPath(issue.path), issue.message, unsupported));
    }
    return fail(out);
  }
  const m = r.data;
  const providers = (m.extensionProviders ?? []).flatMap((p): ExtAuthzGrpcProvider[] => {
    // superRefine guarantees envoyExtAuthzGrpc for every provider that passed.
    const grpc = p.envoyExtAuthzGrpc;
    if (grpc === undefined) return [];
    return [Object.freeze({
      name: p.name,
      service: grpc.service,
      port: grpc.port,
      timeoutMs: grpc.timeout !== undefined ? ms(grpc.timeout) : 600_000,
      failOpen: grpc.failOpen ?? false,
      ...(grpc.includeRequestHeadersInCheck !== undefined ? { includeRequestHeadersInCheck: Object.freeze(grpc.includeRequestHeadersInCheck.map((h) => h.toLowerCase())) } : {}),
    })];
  });
  return ok(
    Object.freeze({
      rootNamespace: m.rootNamespace ?? DEFAULT_MESH_CONFIG.rootNamespace,
      ...(m.trustDomain !== undefined ? { trustDomain: m.trustDomain } : {}),
      trustDomainAliases: Object.freeze([...new Set(m.trustDomainAliases ?? [])]),
      pathNormalization: m.pathNormalization?.normalization ?? DEFAULT_MESH_CONFIG.pathNormalization,
      extensionProviders: Object.freeze(providers),
    }),
  );
}

/** Parses a mesh config file's text (YAML or JSON; empty: every default). */
export function parseMeshConfigText(text: string, source: string): Result<MeshConfig, ConfigError[]> {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e: unknown) {
    const message = e instanceof Error ? (e.message.split('\n')[0] ?? e.message) : String(e);
    return fail([new ConfigError({ code: 'CONFIG_SYNTAX', source, kind: 'MeshConfig', path: '', message })]);
  }
  return parseMeshConfigValue(value, source);
}
