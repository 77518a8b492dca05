import { z } from 'zod';

/**
 * kind's cluster configuration, `kind.x-k8s.io/v1alpha4`, as a strict schema: every field of its
 * Cluster, Node, Networking, Mount, PortMapping and PatchJSON6902 types (kind's
 * pkg/apis/config/v1alpha4/types.go) and no other, so a misspelt or invented field fails here
 * instead of being ignored by kind's YAML decoder.
 */
const patchJson6902 = z.strictObject({ group: z.string(), version: z.string(), kind: z.string(), patch: z.string() });

const mount = z.strictObject({
  containerPath: z.string().optional(),
  hostPath: z.string().optional(),
  readOnly: z.boolean().optional(),
  selinuxRelabel: z.boolean().optional(),
  propagation: z.enum(['None', 'HostToContainer', 'Bidirectional']).optional(),
});

const int32 = z.int().min(-1).max(2_147_483_647);
const portMapping = z.strictObject({
  containerPort: int32.optional(),
  hostPort: int32.optional(),
  listenAddress: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

const node = z.strictObject({
  role: z.enum(['control-plane', 'worker']).optional(),
  image: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  extraMounts: z.array(mount).optional(),
  extraPortMappings: z.array(portMapping).optional(),
  gpus: z.string().optional(),
  kubeadmConfigPatches: z.array(z.string()).optional(),
  kubeadmConfigPatchesJSON6902: z.array(patchJson6902).optional(),
});

const networking = z.strictObject({
  ipFamily: z.enum(['ipv4', 'ipv6', 'dual']).optional(),
  apiServerPort: int32.optional(),
  apiServerAddress: z.string().optional(),
  podSubnet: z.string().optional(),
  serviceSubnet: z.string().optional(),
  disableDefaultCNI: z.boolean().optional(),
  kubeProxyMode: z.enum(['iptables', 'ipvs', 'nftables', 'none']).optional(),
  dnsSearch: z.array(z.string()).optional(),
});

export const kindClusterSchema = z.strictObject({
  kind: z.literal('Cluster'),
  apiVersion: z.literal('kind.x-k8s.io/v1alpha4'),
  name: z.string().optional(),
  nodes: z.array(node).optional(),
  networking: networking.optional(),
  featureGates: z.record(z.string(), z.boolean()).optional(),
  runtimeConfig: z.record(z.string(), z.string()).optional(),
  kubeadmConfigPatches: z.array(z.string()).optional(),
  kubeadmConfigPatchesJSON6902: z.array(patchJson6902).optional(),
  containerdConfigPatches: z.array(z.string()).optional(),
  containerdConfigPatchesJSON6902: z.array(z.string()).optional(),
});

export type KindCluster = z.infer<typeof kindClusterSchema>;

/** The problems of a kind config, each `path: message`; empty when valid. */
export function kindConfigProblems(doc: unknown): string[] {
  const r = kindClusterSchema.safeParse(doc);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
}
