import { z } from 'zod';

/**
 * The ServiceImport spec of the Multi-Cluster Services API (`multicluster.x-k8s.io/v1alpha1`),
 * strict. meshfed's federation writes ServiceImports; users never configure them, so
 * `parseConfigText` rejects the kind. The schema exists for the CRD `meshfed install` prints.
 */

const PORT_MSG = 'must be a port 1..65535';
const port = z.int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG);

const servicePort = z.strictObject({
  name: z.string().max(63).optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
  appProtocol: z.string().optional(),
  port,
});

export const serviceImportSpecSchema = z.strictObject({
  ports: z.array(servicePort),
  ips: z.array(z.string()).max(1).optional(),
  type: z.enum(['ClusterSetIP', 'Headless']),
  sessionAffinity: z.enum(['ClientIP', 'None']).optional(),
  sessionAffinityConfig: z
    .strictObject({ clientIP: z.strictObject({ timeoutSeconds: z.int().min(1).max(86_400).optional() }).optional() })
    .optional(),
});

export type ServiceImportSpecDoc = z.infer<typeof serviceImportSpecSchema>;
