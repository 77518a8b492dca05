import { type Document, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { fail, ok, type Result } from '../../common/result.ts';
import { parseProtocolName, type ServiceProtocol } from '../../common/service-protocol.ts';
import { ConfigError, type ConfigErrorCode, formatPath } from './config-error.ts';
import { resolveHost, toExportTo } from './config-hosts.ts';
import { sniHostIssues, toVirtualServiceSpec } from './config-virtual-service.ts';
import { sidecarSpecSchema, type SidecarSpecDoc } from './config-schema-sidecar.ts';
import { toSidecarSpec } from './config-sidecar.ts';
import { authorizationPolicySpecSchema, type AuthorizationPolicySpecDoc } from './config-schema-authorization-policy.ts';
import { requestAuthenticationSpecSchema, type RequestAuthenticationSpecDoc } from './config-schema-request-authentication.ts';
import { peerAuthenticationSpecSchema, type PeerAuthenticationSpecDoc } from './config-schema-peer-authentication.ts';
import {
  type DestinationRuleDoc,
  destinationRuleSpecSchema,
  documentSchema,
  durationMs,
  KNOWN_UNSUPPORTED_FIELDS,
  type ServiceEntryDoc,
  serviceEntrySpecSchema,
  type ServiceExportDoc,
  serviceExportDocumentSchema,
  type VirtualServiceDoc,
  virtualServiceSpecSchema,
} from './config-schema.ts';
import type {
  ClientTlsSettings,
  ConfigMeta,
  ConfigObject,
  DestinationRuleConfig,
  ConnectionPoolSettings,
  ConsistentHashKey,
  ConsistentHashSettings,
  LoadBalancerSettings,
  LocalityLbSetting,
  OutlierDetectionSettings,
  PeerAuthenticationConfig,
  TrafficPolicy,
  TrafficPolicySections,
  ServiceEntryConfig,
  ServiceExportConfig,
  SidecarConfig,
  VirtualServiceConfig,
  AuthorizationPolicyConfig,
  JwtRule,
  RequestAuthenticationConfig,
} from './config-types.ts';

export interface ParseOptions {
  /** Suffix used to qualify short hosts; default `cluster.local`. */
  domainSuffix?: string;
}

const NETWORKING_VERSIONS = ['v1', 'v1beta1', 'v1alpha3'];
const SECURITY_VERSIONS = ['v1', 'v1beta1'];
const MULTICLUSTER_VERSIONS = ['v1alpha1'];

type KindEntry =
  | {
      versions: string[];
      parse: 'VirtualService' | 'DestinationRule' | 'ServiceEntry' | 'ServiceExport' | 'Sidecar' | 'AuthorizationPolicy' | 'PeerAuthentication' | 'RequestAuthentication';
    }
  | { versions: string[]; unsupported: string };

/** `<group>/<kind>` → how meshfed treats it. */
const KINDS: ReadonlyMap<string, KindEntry> = new Map<string, KindEntry>([
  ['networking.istio.io/VirtualService', { versions: NETWORKING_VERSIONS, parse: 'VirtualService' }],
  ['networking.istio.io/DestinationRule', { versions: NETWORKING_VERSIONS, parse: 'DestinationRule' }],
  ['networking.istio.io/ServiceEntry', { versions: NETWORKING_VERSIONS, parse: 'ServiceEntry' }],
  ['networking.istio.io/Sidecar', { versions: NETWORKING_VERSIONS, parse: 'Sidecar' }],
  ['multicluster.x-k8s.io/ServiceExport', { versions: MULTICLUSTER_VERSIONS, parse: 'ServiceExport' }],
  ...['Gateway', 'EnvoyFilter', 'WorkloadEntry', 'WorkloadGroup', 'ProxyConfig'].map(
    (k): [string, KindEntry] => [`networking.istio.io/${k}`, { versions: NETWORKING_VERSIONS, unsupported: `kind ${k} is not supported yet` }],
  ),
  ['security.istio.io/AuthorizationPolicy', { versions: SECURITY_VERSIONS, parse: 'AuthorizationPolicy' }],
  ['security.istio.io/PeerAuthentication', { versions: SECURITY_VERSIONS, parse: 'PeerAuthentication' }],
  ['security.istio.io/RequestAuthentication', { versions: SECURITY_VERSIONS, parse: 'RequestAuthentication' }],
  [
    'multicluster.x-k8s.io/ServiceImport',
    { versions: MULTICLUSTER_VERSIONS, unsupported: 'kind ServiceImport is written by meshfed, not read from configuration' },
  ],
]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one YAML text (one or more `---` documents) into validated config objects. All problems of
 * all documents are returned together; a document with any error contributes no object.
 * `source` names the text in errors (usually a path relative to the config folder).
 */
export function parseConfigText(text: string, source: string, opts: ParseOptions = {}): Result<ConfigObject[], ConfigError[]> {
  const domainSuffix = opts.domainSuffix ?? 'cluster.local';
  const objects: ConfigObject[] = [];
  const errors: ConfigError[] = [];
  let docs: Iterable<Document>;
  try {
    // For empty input this is an EmptyStream: an empty array.
    docs = parseAllDocuments(text) as Iterable<Document>;
  } catch (e: unknown) {
    const message = e instanceof Error ? e.message : String(e);
    return fail([new ConfigError({ code: 'CONFIG_SYNTAX', source, path: '', message })]);
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        // Pretty messages end with `at line L, column C:` and a code excerpt; keep the first line.
        const message = (err.message.split('\n')[0] ?? err.message).replace(/:$/, '');
        errors.push(new ConfigError({ code: 'CONFIG_SYNTAX', source, path: '', message }));
      }
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const r = parseDocument(value, source, domainSuffix);
    if (r.ok) objects.push(r.value);
    else errors.push(...r.errors);
  }
  return errors.length > 0 ? fail(errors) : ok(objects);
}

/**
 * Validates one already-decoded document (a YAML document's value, or a custom resource with its
 * server-managed fields removed) with the same rules as `parseConfigText`.
 */
export function parseConfigValue(value: unknown, source: string, opts: ParseOptions = {}): Result<ConfigObject, ConfigError[]> {
  return parseDocument(value, source, opts.domainSuffix ?? 'cluster.local');
}

function parseDocument(value: unknown, source: string, domainSuffix: string): Result<ConfigObject, ConfigError[]> {
  const err = (code: ConfigErrorCode, path: string, message: string, kind?: string, name?: string): ConfigError[] => [
    new ConfigError({ code, source, path, message, ...(kind !== undefined ? { kind } : {}), ...(name !== undefined ? { name } : {}) }),
  ];
  if (!isRecord(value)) return fail(err('CONFIG_INVALID', '', 'a document must be a mapping with apiVersion, kind, metadata'));
  const { apiVersion, kind } = value;
  const meta = isRecord(value['metadata']) ? value['metadata'] : {};
  const name =
    typeof meta['name'] === 'string' ? `${typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default'}/${meta['name']}` : undefined;
  if (typeof kind !== 'string' || kind === '') return fail(err('CONFIG_INVALID', 'kind', 'required', undefined, name));
  if (typeof apiVersion !== 'string' || !apiVersion.includes('/')) {
    return fail(err('CONFIG_INVALID', 'apiVersion', 'required, as <group>/<version>', kind, name));
  }
  const [group, version] = apiVersion.split('/', 2) as [string, string];
  const entry = KINDS.get(`${group}/${kind}`);
  if (!entry) return fail(err('CONFIG_INVALID', 'kind', `unknown kind ${kind} in ${apiVersion}`, kind, name));
  if (!entry.versions.includes(version)) {
    return fail(err('CONFIG_INVALID', 'apiVersion', `${apiVersion} is not a supported version of ${kind} (use ${entry.versions.map((v) => `${group}/${v}`).join(', ')})`, kind, name));
  }
  if ('unsupported' in entry) return fail(err('CONFIG_UNSUPPORTED', '', entry.unsupported, kind, name));

  const ctx = { source, kind, ...(name !== undefined ? { name } : {}) };
  switch (entry.parse) {
    case 'VirtualService': {
      const r = documentSchema(virtualServiceSpecSchema).safeParse(value);
      if (!r.success) return fail(zodErrors(r.error, ctx));
      const sni = sniHostIssues(r.data.spec, r.data.metadata.namespace ?? 'default', domainSuffix);
      if (sni.length > 0) return fail(sni.map((i) => new ConfigError({ ...ctx, code: 'CONFIG_INVALID', path: formatPath(['spec', ...i.path]), message: i.message })));
      return ok(toVirtualService(r.data, source, domainSuffix));
    }
    case 'DestinationRule': {
      const r = documentSchema(destinationRuleSpecSchema).safeParse(value);
      return r.success ? ok(toDestinationRule(r.data, source, domainSuffix)) : fail(zodErrors(r.error, ctx));
    }
    case 'ServiceEntry': {
      const r = documentSchema(serviceEntrySpecSchema).safeParse(value);
      return r.success ? ok(toServiceEntry(r.data, source)) : fail(zodErrors(r.error, ctx));
    }
    case 'Sidecar': {
      const r = documentSchema(sidecarSpecSchema).safeParse(value);
      return r.success ? ok(toSidecar(r.data, source)) : fail(zodErrors(r.error, ctx));
    }
    case 'AuthorizationPolicy': {
      const r = documentSchema(authorizationPolicySpecSchema).safeParse(value);
      return r.success ? ok(toAuthorizationPolicy(r.data, source)) : fail(zodErrors(r.error, ctx));
    }
    case 'PeerAuthentication': {
      const r = documentSchema(peerAuthenticationSpecSchema.optional()).safeParse(value);
      return r.success ? ok(toPeerAuthentication(r.data, source)) : fail(zodErrors(r.error, ctx));
    }
    case 'RequestAuthentication': {
      const r = documentSchema(requestAuthenticationSpecSchema.optional()).safeParse(value);
      return r.success ? ok(toRequestAuthentication(r.data, source)) : fail(zodErrors(r.error, ctx));
    }
    case 'ServiceExport': {
      const r = serviceExportDocumentSchema.safeParse(value);
      return r.success ? ok(toServiceExport(r.data, source, domainSuffix)) : fail(zodErrors(r.error, ctx));
    }
  }
}

function zodErrors(error: z.ZodError, ctx: { source: string; kind: string; name?: string }): ConfigError[] {
  const out: ConfigError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const known = KNOWN_UNSUPPORTED_FIELDS.has(key);
        out.push(
          new ConfigError({
            ...ctx,
            code: known ? 'CONFIG_UNSUPPORTED' : 'CONFIG_INVALID',
            path: formatPath([...issue.path, key]),
            message: known ? 'field is not supported by meshfed yet' : 'unknown field',
          }),
        );
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_key') message = `invalid key: ${issue.issues[0]?.message ?? issue.message}`;
    const unsupported = issue.code === 'custom' && isRecord(issue.params) && issue.params['unsupported'] === true;
    out.push(new ConfigError({ ...ctx, code: unsupported ? 'CONFIG_UNSUPPORTED' : 'CONFIG_INVALID', path: formatPath(issue.path), message }));
  }
  return out;
}

function toMeta(m: { name: string; namespace?: string | undefined; labels?: Record<string, string> | undefined; annotations?: Record<string, string> | undefined }): ConfigMeta {
  return Object.freeze({
    name: m.name,
    namespace: m.namespace ?? 'default',
    labels: Object.freeze({ ...(m.labels ?? {}) }),
    annotations: Object.freeze({ ...(m.annotations ?? {}) }),
  });
}

function toVirtualService(d: VirtualServiceDoc, source: string, suffix: string): VirtualServiceConfig {
  const metadata = toMeta(d.metadata);
  return deepFreeze({
    kind: 'VirtualService',
    apiVersion: d.apiVersion,
    metadata,
    source,
    spec: toVirtualServiceSpec(d.spec, metadata.namespace, suffix, durationMs),
  });
}

type RawTrafficPolicy = NonNullable<DestinationRuleDoc['spec']['trafficPolicy']>;
type RawSections = Pick<RawTrafficPolicy, 'loadBalancer' | 'connectionPool' | 'outlierDetection' | 'tls'>;

/** Copies the set fields of `raw`, mapped by `map`, leaving unset ones out (exactOptionalPropertyTypes). */
function defined<T extends object>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

type RawLocality = NonNullable<NonNullable<RawSections['loadBalancer']>['localityLbSetting']>;

function toLocalityLbSetting(l: RawLocality): LocalityLbSetting {
  return {
    enabled: l.enabled ?? true,
    distribute: (l.distribute ?? []).map((d) => ({ from: d.from, to: Object.entries(d.to).map(([locality, weight]) => ({ locality, weight })) })),
    failover: (l.failover ?? []).map((f) => ({ from: f.from, to: f.to })),
    failoverPriority: (l.failoverPriority ?? []).map((entry) => {
      const eq = entry.indexOf('=');
      return eq === -1 ? { label: entry } : { label: entry.slice(0, eq), value: entry.slice(eq + 1) };
    }),
  };
}

function toLoadBalancer(lb: NonNullable<RawSections['loadBalancer']>): LoadBalancerSettings {
  const locality = lb.localityLbSetting ? { localityLbSetting: toLocalityLbSetting(lb.localityLbSetting) } : {};
  if (lb.simple !== undefined) return { simple: lb.simple === 'LEAST_CONN' ? 'LEAST_REQUEST' : lb.simple, ...locality };
  const ch = lb.consistentHash;
  if (!ch) return locality;
  let key: ConsistentHashKey;
  if (ch.httpHeaderName !== undefined) key = { kind: 'header', name: ch.httpHeaderName.toLowerCase() };
  else if (ch.httpCookie !== undefined) {
    key = defined<ConsistentHashKey & { kind: 'cookie' }>({
      kind: 'cookie',
      name: ch.httpCookie.name,
      path: ch.httpCookie.path,
      ttlMs: ch.httpCookie.ttl !== undefined ? durationMs(ch.httpCookie.ttl) : undefined,
    });
  } else if (ch.useSourceIp) key = { kind: 'source-ip' };
  else key = { kind: 'query', name: ch.httpQueryParameterName ?? '' };
  const minimumRingSize = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
  const algorithm: ConsistentHashSettings['algorithm'] = ch.maglev
    ? defined({ kind: 'maglev' as const, tableSize: ch.maglev.tableSize })
    : defined({ kind: 'ring-hash' as const, minimumRingSize });
  return { consistentHash: { key, algorithm }, ...locality };
}

function toSections(raw: RawSections): TrafficPolicySections {
  const out: TrafficPolicySections = {};
  if (raw.loadBalancer) out.loadBalancer = toLoadBalancer(raw.loadBalancer);
  const cp = raw.connectionPool;
  if (cp) {
    out.connectionPool = defined<ConnectionPoolSettings>({
      tcp: cp.tcp
        ? defined({ maxConnections: cp.tcp.maxConnections, connectTimeoutMs: cp.tcp.connectTimeout !== undefined ? durationMs(cp.tcp.connectTimeout) : undefined })
        : undefined,
      http: cp.http
        ? defined({
            http1MaxPendingRequests: cp.http.http1MaxPendingRequests,
            http2MaxRequests: cp.http.http2MaxRequests,
            maxRequestsPerConnection: cp.http.maxRequestsPerConnection,
            maxRetries: cp.http.maxRetries,
            idleTimeoutMs: cp.http.idleTimeout !== undefined ? durationMs(cp.http.idleTimeout) : undefined,
          })
        : undefined,
    });
  }
  const od = raw.outlierDetection;
  if (od) {
    out.outlierDetection = defined<OutlierDetectionSettings>({
      consecutiveErrors: od.consecutiveErrors,
      consecutive5xxErrors: od.consecutive5xxErrors,
      consecutiveGatewayErrors: od.consecutiveGatewayErrors,
      intervalMs: od.interval !== undefined ? durationMs(od.interval) : undefined,
      baseEjectionTimeMs: od.baseEjectionTime !== undefined ? durationMs(od.baseEjectionTime) : undefined,
      maxEjectionPercent: od.maxEjectionPercent,
      minHealthPercent: od.minHealthPercent,
    });
  }
  if (raw.tls) {
    const tls = raw.tls;
    out.tls = defined<ClientTlsSettings>({
      mode: tls.mode ?? 'DISABLE',
      caCertificates: tls.caCertificates,
      clientCertificate: tls.clientCertificate,
      privateKey: tls.privateKey,
      sni: tls.sni,
      subjectAltNames: [...(tls.subjectAltNames ?? [])],
      insecureSkipVerify: tls.insecureSkipVerify ?? false,
    });
  }
  return out;
}

function toTrafficPolicy(tp: RawTrafficPolicy): TrafficPolicy {
  return {
    ...toSections(tp),
    portLevelSettings: (tp.portLevelSettings ?? []).map((p) => ({ port: p.port.number, ...toSections(p) })),
  };
}

function toDestinationRule(d: DestinationRuleDoc, source: string, suffix: string): DestinationRuleConfig {
  const metadata = toMeta(d.metadata);
  return deepFreeze({
    kind: 'DestinationRule',
    apiVersion: d.apiVersion,
    metadata,
    source,
    spec: {
      host: resolveHost(d.spec.host, metadata.namespace, suffix),
      subsets: (d.spec.subsets ?? []).map((s) => ({
        name: s.name,
        labels: { ...(s.labels ?? {}) },
        ...(s.trafficPolicy ? { trafficPolicy: toTrafficPolicy(s.trafficPolicy) } : {}),
      })),
      ...(d.spec.trafficPolicy ? { trafficPolicy: toTrafficPolicy(d.spec.trafficPolicy) } : {}),
      exportTo: toExportTo(d.spec.exportTo, metadata.namespace),
    },
  });
}

/** A ServiceEntry port protocol (one of the schema's Istio names, so always known) in the model's union. */
function serviceEntryProtocol(name: string): ServiceProtocol {
  const parsed = parseProtocolName(name);
  return parsed.kind === 'known' ? parsed.protocol : 'tcp';
}

/** Hosts stay as written (Istio does not qualify ServiceEntry hosts); port protocols map as src/common/service-protocol.ts says. */
function toServiceEntry(d: ServiceEntryDoc, source: string): ServiceEntryConfig {
  const metadata = toMeta(d.metadata);
  const s = d.spec;
  return deepFreeze({
    kind: 'ServiceEntry',
    apiVersion: d.apiVersion,
    metadata,
    source,
    spec: {
      hosts: [...new Set(s.hosts)],
      ports: s.ports.map((p) => ({
        number: p.number,
        protocol: serviceEntryProtocol(p.protocol),
        name: p.name,
        ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
      })),
      location: s.location ?? 'MESH_EXTERNAL',
      resolution: s.resolution === 'DNS' || s.resolution === 'DNS_ROUND_ROBIN' ? s.resolution : 'STATIC',
      endpoints: (s.endpoints ?? []).map((e) => ({ address: e.address, ports: { ...(e.ports ?? {}) }, labels: { ...(e.labels ?? {}) }, weight: e.weight ?? 1 })),
      ...(s.workloadSelector ? { workloadSelector: { labels: { ...s.workloadSelector.labels } } } : {}),
      exportTo: toExportTo(s.exportTo, metadata.namespace),
    },
  });
}

function toAuthorizationPolicy(
  d: { apiVersion: string; metadata: Parameters<typeof toMeta>[0]; spec: AuthorizationPolicySpecDoc },
  source: string,
): AuthorizationPolicyConfig {
  const { selector, action, rules } = d.spec;
  // CUSTOM is refused by the schema; provider exists only with it.
  const spec: AuthorizationPolicyConfig['spec'] = {
    action: action === 'DENY' || action === 'AUDIT' ? action : 'ALLOW',
    ...(selector ? { selector: { matchLabels: { ...(selector.matchLabels ?? {}) } } } : {}),
    ...(rules !== undefined ? { rules: JSON.parse(JSON.stringify(rules)) as NonNullable<AuthorizationPolicyConfig['spec']['rules']> } : {}),
  };
  return deepFreeze({ kind: 'AuthorizationPolicy', apiVersion: d.apiVersion, metadata: toMeta(d.metadata), source, spec });
}

function toSidecar(d: { apiVersion: string; metadata: Parameters<typeof toMeta>[0]; spec: SidecarSpecDoc }, source: string): SidecarConfig {
  return deepFreeze({ kind: 'Sidecar', apiVersion: d.apiVersion, metadata: toMeta(d.metadata), source, spec: toSidecarSpec(d.spec) });
}

function toPeerAuthentication(
  d: { apiVersion: string; metadata: Parameters<typeof toMeta>[0]; spec?: PeerAuthenticationSpecDoc | undefined },
  source: string,
): PeerAuthenticationConfig {
  const spec = d.spec ?? {};
  return deepFreeze({
    kind: 'PeerAuthentication',
    apiVersion: d.apiVersion,
    metadata: toMeta(d.metadata),
    source,
    spec: {
      ...(spec.selector ? { selector: { matchLabels: { ...spec.selector.matchLabels } } } : {}),
      mode: spec.mtls?.mode ?? 'UNSET',
      portLevelMtls: Object.entries(spec.portLevelMtls ?? {})
        .map(([port, m]) => ({ port: Number(port), mode: m.mode ?? 'UNSET' }))
        .sort((a, b) => a.port - b.port),
    },
  });
}

function toRequestAuthentication(
  d: { apiVersion: string; metadata: Parameters<typeof toMeta>[0]; spec?: RequestAuthenticationSpecDoc | undefined },
  source: string,
): RequestAuthenticationConfig {
  const spec: Pick<RequestAuthenticationSpecDoc, 'selector' | 'jwtRules'> = d.spec ?? {};
  const jwtRules = (spec.jwtRules ?? []).map((r): JwtRule => ({
    issuer: r.issuer,
    audiences: [...(r.audiences ?? [])],
    ...(r.jwks !== undefined ? { jwks: r.jwks } : {}),
    ...(r.jwksUri !== undefined ? { jwksUri: r.jwksUri } : {}),
    ...(r.fromHeaders !== undefined ? { fromHeaders: r.fromHeaders.map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix ?? '' })) } : {}),
    ...(r.fromParams !== undefined ? { fromParams: [...r.fromParams] } : {}),
    ...(r.outputPayloadToHeader !== undefined ? { outputPayloadToHeader: r.outputPayloadToHeader.toLowerCase() } : {}),
    forwardOriginalToken: r.forwardOriginalToken ?? false,
    outputClaimToHeaders: (r.outputClaimToHeaders ?? []).map((c) => ({ header: c.header.toLowerCase(), claim: c.claim })),
  }));
  return deepFreeze({
    kind: 'RequestAuthentication',
    apiVersion: d.apiVersion,
    metadata: toMeta(d.metadata),
    source,
    spec: { ...(spec.selector ? { selector: { matchLabels: { ...(spec.selector.matchLabels ?? {}) } } } : {}), jwtRules },
  });
}

function toServiceExport(d: ServiceExportDoc, source: string, suffix: string): ServiceExportConfig {
  const metadata = toMeta(d.metadata);
  return deepFreeze({
    kind: 'ServiceExport',
    apiVersion: d.apiVersion,
    metadata,
    source,
    hostname: `${metadata.name}.${metadata.namespace}.svc.${suffix}`,
  });
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}
