import { z } from 'zod';
import { host, virtualServiceSpecSchema } from './config-schema-virtual-service.ts';

/**
 * Zod schemas of the raw (user-written) documents meshfed accepts. Every object is strict: a field
 * meshfed does not know is reported with its path, never ignored. Custom issues flagged with
 * `params.unsupported` mean "valid Istio, not supported by meshfed yet".
 */

const UNSUPPORTED = { unsupported: true } as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const dnsLabel = z.string().max(63).regex(DNS_LABEL, 'must be a DNS label (lower-case letters, digits, -)');
const dnsSubdomain = z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a DNS subdomain (lower-case letters, digits, -, .)');
const stringMap = z.record(z.string(), z.string());

export { virtualServiceSpecSchema };

export const metadataSchema = z.strictObject({
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});

const DURATION = /^(\d+(\.\d+)?)(ms|s|m|h)$/;
const duration = z.string().regex(DURATION, 'must be a duration such as 5s or 250ms');

const lbSimple = z.enum(['ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN', 'RANDOM'], 'must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM');

export const destinationRuleSpecSchema = z
  .strictObject({
    host,
    subsets: z.array(z.strictObject({ name: dnsLabel, labels: stringMap.optional() })).optional(),
    trafficPolicy: z.strictObject({ loadBalancer: z.strictObject({ simple: lbSimple }).optional() }).optional(),
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
  'exportTo', 'tcp', 'tls', 'delegate', 'http2Error', 'exponentialDelay', 'connectionPool', 'outlierDetection', 'portLevelSettings',
  'localityLbSetting', 'tunnel', 'proxyProtocol', 'consistentHash', 'warmupDurationSecs',
  'workloadSelector', 'trafficPolicy', 'status', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'managedFields', 'finalizers', 'ownerReferences', 'deletionTimestamp',
]);
