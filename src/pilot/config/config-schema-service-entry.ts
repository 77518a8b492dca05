import { isIP } from 'node:net';
import { z } from 'zod';
import { exportTo } from './config-export-to.ts';
import { host } from './config-schema-virtual-service.ts';

/**
 * The ServiceEntry spec as Istio's networking API defines it (v1, v1beta1, v1alpha3), strict: a
 * field meshfed does not know is reported with its path. `params.unsupported` marks valid Istio
 * that meshfed does not honour yet (VIP capture, NONE resolution, SANs).
 */

const UNSUPPORTED = { unsupported: true } as const;
const PORT_MSG = 'must be a port 1..65535';
const port = z.int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);
const stringMap = z.record(z.string(), z.string());

const PROTOCOLS = ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TCP', 'TLS', 'HTTPS', 'MONGO', 'REDIS', 'MYSQL'] as const;
const servicePort = z.strictObject({
  number: port,
  /**
   * TCP, TLS, HTTPS, MONGO, REDIS and MYSQL ports are proxied as raw TCP (src/common/service-protocol.ts).
   * HTTP2 and GRPC ports are spoken to in HTTP/2: prior-knowledge h2c to a plaintext MESH_EXTERNAL
   * endpoint, h2 (ALPN h2) over TLS the sidecar originates (DestinationRule tls SIMPLE / MUTUAL).
   */
  protocol: z.enum(PROTOCOLS, `must be one of ${PROTOCOLS.join(', ')}`),
  name: z.string().min(1, 'must not be empty'),
  targetPort: port.optional(),
});

const workloadEntry = z.strictObject({
  address: z.string().min(1, 'must not be empty'),
  ports: z.record(z.string(), port).optional(),
  labels: stringMap.optional(),
  weight: z.int('must be an integer 1..4294967295').min(1, 'must be an integer 1..4294967295').max(4_294_967_295).optional(),
  locality: z.string().optional().refine((v) => v === undefined, { message: 'endpoint locality is not supported yet', params: UNSUPPORTED }),
  network: z.string().optional().refine((v) => v === undefined, { message: 'endpoint network is not supported yet', params: UNSUPPORTED }),
  serviceAccount: z.string().optional().refine((v) => v === undefined, { message: 'endpoint serviceAccount is not supported yet', params: UNSUPPORTED }),
});

export const serviceEntrySpecSchema = z
  .strictObject({
    hosts: z.array(host).min(1, 'at least one host is required'),
    addresses: z
      .array(z.string())
      .optional()
      .refine((a) => a === undefined || a.length === 0, { message: 'addresses (VIP capture) are not supported yet', params: UNSUPPORTED }),
    ports: z.array(servicePort).min(1, 'at least one port is required'),
    location: z.enum(['MESH_EXTERNAL', 'MESH_INTERNAL'], 'must be MESH_EXTERNAL or MESH_INTERNAL').optional(),
    resolution: z.enum(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'], 'must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN').optional(),
    endpoints: z.array(workloadEntry).optional(),
    workloadSelector: z.strictObject({ labels: stringMap }).optional(),
    exportTo,
    subjectAltNames: z
      .array(z.string())
      .optional()
      .refine((s) => s === undefined || s.length === 0, { message: 'subjectAltNames are not supported yet', params: UNSUPPORTED }),
  })
  .superRefine((s, ctx) => {
    const resolution = s.resolution ?? 'NONE';
    if (resolution === 'NONE') {
      ctx.addIssue({
        code: 'custom',
        path: ['resolution'],
        message: 'resolution NONE (the default: forward to the original destination) is not supported yet: set STATIC, DNS or DNS_ROUND_ROBIN',
        params: UNSUPPORTED,
      });
    }
    if (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') refineDns(s, resolution, ctx);
    const names = new Set<string>();
    const numbers = new Set<number>();
    s.ports.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'name'], message: `duplicate port name ${p.name}` });
      if (numbers.has(p.number)) ctx.addIssue({ code: 'custom', path: ['ports', i, 'number'], message: `duplicate port ${p.number}` });
      names.add(p.name);
      numbers.add(p.number);
    });
    if (s.endpoints !== undefined && s.workloadSelector !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['workloadSelector'], message: 'endpoints and workloadSelector are exclusive' });
    }
    if (s.workloadSelector !== undefined && (s.location ?? 'MESH_EXTERNAL') !== 'MESH_INTERNAL') {
      ctx.addIssue({ code: 'custom', path: ['workloadSelector'], message: 'needs location MESH_INTERNAL' });
    }
    if (resolution === 'STATIC' && s.workloadSelector === undefined && (s.endpoints ?? []).length === 0) {
      ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'resolution STATIC needs endpoints or a workloadSelector' });
    }
    (s.endpoints ?? []).forEach((e, i) => {
      if (resolution === 'STATIC' && isIP(e.address) === 0) {
        ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'address'], message: 'must be an IP address with resolution STATIC' });
      }
      for (const name of Object.keys(e.ports ?? {})) {
        if (!names.has(name)) ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'ports', name], message: `no service port is named ${name}` });
      }
    });
  });

const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Resolution DNS (Envoy STRICT_DNS: every address of every name) and DNS_ROUND_ROBIN (LOGICAL_DNS:
 * the first address of one name), as Istio validates them: endpoint addresses are IPs or DNS
 * names; without endpoints the hosts are the names resolved, so they must not be wildcards;
 * DNS_ROUND_ROBIN takes at most one endpoint; a workloadSelector needs STATIC.
 */
function refineDns(
  s: { hosts: string[]; endpoints?: { address: string }[] | undefined; workloadSelector?: unknown },
  resolution: 'DNS' | 'DNS_ROUND_ROBIN',
  ctx: z.RefinementCtx,
): void {
  if (s.workloadSelector !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['workloadSelector'], message: `needs resolution STATIC, not ${resolution}` });
  }
  const endpoints = s.endpoints ?? [];
  if (endpoints.length === 0) {
    s.hosts.forEach((h, i) => {
      if (h.includes('*')) ctx.addIssue({ code: 'custom', path: ['hosts', i], message: `a wildcard host cannot be resolved: resolution ${resolution} without endpoints resolves the hosts` });
    });
  }
  if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['endpoints'], message: 'resolution DNS_ROUND_ROBIN takes at most one endpoint' });
  }
  endpoints.forEach((e, i) => {
    if (isIP(e.address) === 0 && !DNS_NAME.test(e.address)) {
      ctx.addIssue({ code: 'custom', path: ['endpoints', i, 'address'], message: `must be an IP address or a DNS name with resolution ${resolution}` });
    }
  });
}

export type ServiceEntrySpecDoc = z.infer<typeof serviceEntrySpecSchema>;
