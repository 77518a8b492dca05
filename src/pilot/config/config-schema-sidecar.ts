import { z } from 'zod';

/**
 * The Sidecar spec as Istio's networking API defines it (v1, v1beta1, v1alpha3), strict: a field
 * meshfed does not know is reported with its path. `params.unsupported` marks valid Istio that
 * meshfed does not honour: `ingress` listeners, `bind` and capture modes other than DEFAULT (the
 * local sidecar captures nothing: apps call its 15001), `egressProxy` and `inboundConnectionPool`.
 * `outboundTrafficPolicy.mode` ALLOW_ANY and REGISTRY_ONLY are both accepted: Pilot applies them
 * to capture proxies (PassthroughCluster / BlackHoleCluster); a proxy without capture has no
 * original destination to pass through to, so there ALLOW_ANY means meshfed's default (an unknown
 * host has no route: 404 NR), and REGISTRY_ONLY adds Istio's `block_all` (502).
 */

const UNSUPPORTED = { unsupported: true } as const;
const PORT_MSG = 'must be a port 1..65535';
const port = z.int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);
const stringMap = z.record(z.string(), z.string());

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why a `namespace/dnsName` text is invalid, or undefined when it is valid. */
export function egressHostProblem(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) return 'must be namespace/dnsName, e.g. ./reviews.default.svc.cluster.local, istio-system/*, */*.example.com';
  const ns = text.slice(0, slash);
  const dns = text.slice(slash + 1);
  if (!(ns === '.' || ns === '*' || ns === '~' || (ns.length <= 63 && DNS_LABEL.test(ns)))) return `namespace "${ns}" must be ".", "*", "~" or a namespace name`;
  if (dns === '*') return undefined;
  const name = dns.startsWith('*.') ? dns.slice(2) : dns;
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) return `dnsName "${dns}" must be *, *.<domain> or a host name (lower-case letters, digits, -, .)`;
  return undefined;
}

const egressHost = z.string().superRefine((h, ctx) => {
  const problem = egressHostProblem(h);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'TCP', 'TLS', 'HTTPS', 'MONGO', 'REDIS', 'MYSQL'] as const;

const egressPort = z.strictObject({
  number: port,
  protocol: z
    .enum(PROTOCOLS, `must be one of ${PROTOCOLS.join(', ')}`)
    .refine((p) => p === 'HTTP' || p === 'HTTP2' || p === 'GRPC', {
      message: 'only HTTP, HTTP2 and GRPC egress ports are supported yet (the sidecar proxies HTTP only)',
      params: UNSUPPORTED,
    })
    .optional(),
  name: z.string().min(1, 'must not be empty').optional(),
  targetPort: port
    .optional()
    .refine((v) => v === undefined, { message: 'targetPort has no meaning on an egress listener', params: UNSUPPORTED }),
});

const egressListener = z.strictObject({
  port: egressPort.optional(),
  bind: z
    .string()
    .optional()
    .refine((v) => v === undefined, { message: 'bind is not supported: the sidecar binds its outbound listener on the workload address', params: UNSUPPORTED }),
  captureMode: z
    .enum(['DEFAULT', 'IPTABLES', 'NONE'], 'must be one of DEFAULT, IPTABLES, NONE')
    .optional()
    .refine((v) => v === undefined || v === 'DEFAULT', {
      message: 'only captureMode DEFAULT is supported: the local sidecar captures no traffic (apps call its port 15001)',
      params: UNSUPPORTED,
    }),
  hosts: z.array(egressHost).min(1, 'at least one host is required'),
});

const outboundTrafficPolicy = z.strictObject({
  mode: z
    .enum(['REGISTRY_ONLY', 'ALLOW_ANY'], 'must be REGISTRY_ONLY or ALLOW_ANY')
    .optional(),
  egressProxy: z
    .unknown()
    .optional()
    .refine((v) => v === undefined, { message: 'egressProxy is not supported yet', params: UNSUPPORTED }),
});

export const sidecarSpecSchema = z
  .strictObject({
    workloadSelector: z
      .strictObject({
        labels: stringMap.refine((l) => Object.keys(l).length > 0, 'must name at least one label (leave workloadSelector out for the namespace-wide Sidecar)'),
      })
      .optional(),
    ingress: z
      .array(z.unknown())
      .optional()
      .refine((v) => v === undefined || v.length === 0, { message: 'ingress listeners are not supported yet', params: UNSUPPORTED }),
    egress: z.array(egressListener).optional(),
    outboundTrafficPolicy: outboundTrafficPolicy.optional(),
    inboundConnectionPool: z
      .unknown()
      .optional()
      .refine((v) => v === undefined, { message: 'inboundConnectionPool is not supported yet', params: UNSUPPORTED }),
  })
  .superRefine((s, ctx) => {
    const ports = new Map<number, number>();
    let catchAll: number | undefined;
    (s.egress ?? []).forEach((l, i) => {
      if (l.port === undefined) {
        if (catchAll !== undefined) ctx.addIssue({ code: 'custom', path: ['egress', i], message: `only one egress listener may leave out port (egress[${catchAll}] does)` });
        catchAll ??= i;
        return;
      }
      const first = ports.get(l.port.number);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['egress', i, 'port', 'number'], message: `duplicate port ${l.port.number} (egress[${first}])` });
      else ports.set(l.port.number, i);
    });
  });

export type SidecarSpecDoc = z.infer<typeof sidecarSpecSchema>;
