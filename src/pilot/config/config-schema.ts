import { z } from 'zod';
import { clientTlsSchema } from './config-schema-client-tls.ts';
import { exportTo } from './config-export-to.ts';
import { serviceEntrySpecSchema } from './config-schema-service-entry.ts';
import { localityLbSettingSchema } from './config-schema-locality.ts';
import { host, virtualServiceSpecSchema } from './config-schema-virtual-service.ts';

/**
 * Zod schemas of the raw (user-written) documents meshfed accepts. Every object is strict: a field
 * meshfed does not know is reported with its path, never ignored. Custom issues flagged with
 * `params.unsupported` mean "valid Istio, not supported by meshfed yet".
 */


const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const dnsLabel = z.string().max(63).regex(DNS_LABEL, 'must be a DNS label (lower-case letters, digits, -)');
const dnsSubdomain = z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a DNS subdomain (lower-case letters, digits, -, .)');
const stringMap = z.record(z.string(), z.string());

export { serviceEntrySpecSchema, virtualServiceSpecSchema };

export const metadataSchema = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});

const DURATION = /^(\d+(\.\d+)?)(ms|s|m|h)$/;
const duration = z.string().regex(DURATION, 'must be a duration such as 5s or 250ms');

const lbSimple = z.enum(['ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN', 'RANDOM'], 'must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM');

const INT32_MAX = 2_147_483_647;
const count = z.int('must be a non-negative integer').min(0, 'must be a non-negative integer').max(INT32_MAX);
const percent = z.int('must be an integer 0..100').min(0, 'must be an integer 0..100').max(100, 'must be an integer 0..100');
const positiveDuration = duration.refine((d) => durationMs(d) > 0, 'must be positive');

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}
const RING_MSG = 'must be an integer 1..8388608';
const ringSize = z.int(RING_MSG).min(1, RING_MSG).max(8_388_608, RING_MSG);

const consistentHash = z
  .strictObject({
    httpHeaderName: z.string().regex(/^[A-Za-z0-9-]+$/, 'must be a header name').optional(),
    httpCookie: z.strictObject({ name: z.string().min(1, 'must not be empty'), path: z.string().optional(), ttl: duration.optional() }).optional(),
    useSourceIp: z.literal(true, 'only true is meaningful').optional(),
    httpQueryParameterName: z.string().min(1, 'must not be empty').optional(),
    ringHash: z.strictObject({ minimumRingSize: ringSize.optional() }).optional(),
    maglev: z
      .strictObject({ tableSize: z.int('must be a prime number below 5000011').refine((n) => isPrime(n) && n < 5_000_011, 'must be a prime number below 5000011').optional() })
      .optional(),
    minimumRingSize: ringSize.optional(),
  })
  .superRefine((c, ctx) => {
    const keys = (['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'] as const).filter((k) => c[k] !== undefined);
    if (keys.length !== 1) {
      ctx.addIssue({ code: 'custom', message: 'exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set' });
    }
    const algos = (['ringHash', 'maglev', 'minimumRingSize'] as const).filter((k) => c[k] !== undefined);
    if (algos.length > 1) ctx.addIssue({ code: 'custom', path: [algos[1] ?? ''], message: `cannot be combined with ${algos[0]}` });
  });

const loadBalancer = z
  .strictObject({ simple: lbSimple.optional(), consistentHash: consistentHash.optional(), localityLbSetting: localityLbSettingSchema.optional() })
  .superRefine((lb, ctx) => {
    if (lb.simple !== undefined && lb.consistentHash !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['consistentHash'], message: 'simple and consistentHash are exclusive' });
    }
  });

const connectionPool = z.strictObject({
  tcp: z.strictObject({ maxConnections: count.optional(), connectTimeout: positiveDuration.optional() }).optional(),
  http: z
    .strictObject({
      http1MaxPendingRequests: count.optional(),
      http2MaxRequests: count.optional(),
      maxRequestsPerConnection: count.optional(),
      maxRetries: count.optional(),
      idleTimeout: positiveDuration.optional(),
    })
    .optional(),
});

const outlierDetection = z.strictObject({
  consecutiveErrors: count.optional(),
  consecutive5xxErrors: count.optional(),
  consecutiveGatewayErrors: count.optional(),
  interval: positiveDuration.optional(),
  baseEjectionTime: positiveDuration.optional(),
  maxEjectionPercent: percent.optional(),
  minHealthPercent: percent.optional(),
});

const policySections = {
  loadBalancer: loadBalancer.optional(),
  connectionPool: connectionPool.optional(),
  outlierDetection: outlierDetection.optional(),
  tls: clientTlsSchema.optional(),
};
const portLevelSetting = z.strictObject({
  port: z.strictObject({ number: z.int('must be a port 1..65535').min(1).max(65535) }),
  ...policySections,
});
const trafficPolicy = z
  .strictObject({ ...policySections, portLevelSettings: z.array(portLevelSetting).optional() })
  .superRefine((tp, ctx) => {
    const seen = new Set<number>();
    (tp.portLevelSettings ?? []).forEach((p, i) => {
      if (seen.has(p.port.number)) ctx.addIssue({ code: 'custom', path: ['portLevelSettings', i, 'port'], message: `duplicate port ${p.port.number}` });
      seen.add(p.port.number);
    });
  });

export const destinationRuleSpecSchema = z
  .strictObject({
    host,
    subsets: z.array(z.strictObject({ name: dnsLabel, labels: stringMap.optional(), trafficPolicy: trafficPolicy.optional() })).optional(),
    trafficPolicy: trafficPolicy.optional(),
    exportTo,
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    (s.subsets ?? []).forEach((sub, i) => {
      if (seen.has(sub.name)) ctx.addIssue({ code: 'custom', path: ['subsets', i, 'name'], message: `duplicate subset ${sub.name}` });
      seen.add(sub.name);
    });
  });

export const serviceExportSpecSchema = z.strictObject({}).optional();

/** Whole documents: apiVersion, kind, metadata, spec; nothing else (no `status`). */
export function documentSchema<S extends z.ZodType>(spec: S) {
  return z.strictObject({ apiVersion: z.string(), kind: z.string(), metadata: metadataSchema, spec });
}

/** Serviceexport names are Service names: DNS labels. */
export const serviceExportDocumentSchema = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: metadataSchema.extend({ name: dnsLabel }),
  spec: serviceExportSpecSchema,
});

export type VirtualServiceDoc = z.infer<ReturnType<typeof documentSchema<typeof virtualServiceSpecSchema>>>;
export type ServiceEntryDoc = z.infer<ReturnType<typeof documentSchema<typeof serviceEntrySpecSchema>>>;
export type DestinationRuleDoc = z.infer<ReturnType<typeof documentSchema<typeof destinationRuleSpecSchema>>>;
export type ServiceExportDoc = z.infer<typeof serviceExportDocumentSchema>;

/** Duration text (validated by `duration`) → milliseconds. */
export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`durationMs: unvalidated duration ${text}`);
  const n = Number(m[1]);
  const unit = m[3];
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}

/**
 * Field names that exist in Istio's (or Kubernetes') schemas but that meshfed does not support.
 * Used only to word the rejection ("not supported yet" rather than "unknown field").
 */
export const KNOWN_UNSUPPORTED_FIELDS: ReadonlySet<string> = new Set([
  'tcp', 'tls', 'delegate', 'http2Error', 'exponentialDelay',
  'tunnel', 'proxyProtocol', 'warmupDurationSecs', 'tcpKeepalive', 'maxConnectionDuration',
  'idleTimeout', 'h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams', 'splitExternalLocalOriginErrors',
  'consecutiveLocalOriginFailures', 'ringHash', 'maglev', 'httpCookie',
  'workloadSelector', 'trafficPolicy', 'status', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'managedFields', 'finalizers', 'ownerReferences', 'deletionTimestamp',
]);
