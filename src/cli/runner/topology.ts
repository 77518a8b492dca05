import { parseMeshConfigValue } from '../../pilot/config/mesh-config.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { fail, ok, type Result } from '../../common/result.ts';
import { type ServiceProtocol, selectProtocol } from '../../common/service-protocol.ts';
import { formatZodIssues } from '../../common/zod-issues.ts';

/**
 * The `LocalMesh` topology file read by `meshfed up -f mesh.yaml`. Validated once here; the
 * runner trusts the returned value. Config paths are resolved relative to the file.
 */
const dnsLabel = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a DNS label (lower-case letters, digits, "-")');

const port = z.number().int().min(1).max(65535);

const appSchema = z.union([
  z.literal('echo'),
  z.strictObject({
    command: z.array(z.string()).min(1),
    port: port.optional(),
    env: z.record(z.string(), z.string()).optional(),
  }),
]);

const workloadSchema = z.strictObject({
  name: dnsLabel,
  namespace: dnsLabel.default('default'),
  serviceAccount: dnsLabel.optional(),
  service: z.strictObject({
    name: dnsLabel,
    port,
    /** Chosen as Istio chooses (src/common/service-protocol.ts): protocol, appProtocol, name prefix, default http. */
    protocol: z.string().min(1).optional(),
    appProtocol: z.string().min(1).optional(),
    portName: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, 'must be an IANA service name (at most 15 lower-case letters, digits, "-")').optional(),
  }),
  labels: z.record(z.string(), z.string()).default({}),
  app: appSchema.default('echo'),
  sidecar: z.boolean().default(true),
});

const clusterSchema = z.strictObject({
  name: dnsLabel,
  workloads: z.array(workloadSchema).default([]),
  config: z.array(z.string()).default([]),
});

const topologySchema = z.strictObject({
  apiVersion: z.literal('meshfed.dev/v1alpha1'),
  kind: z.literal('LocalMesh'),
  metadata: z.strictObject({ name: dnsLabel }),
  spec: z.strictObject({
    trustDomain: z.string().regex(/^[a-z0-9.-]+$/, 'must be a DNS name').default('cluster.local'),
    /** Istio's meshConfig subset (src/pilot/config/mesh-config.ts), written to every cluster's mesh.yaml. */
    meshConfig: z.record(z.string(), z.unknown()).optional(),
    clusters: z.array(clusterSchema).min(1).max(16),
  }),
});

type WorkloadDoc = z.infer<typeof workloadSchema>;
/** A workload with its service port's protocol chosen (`portName` kept for display and ServiceEntry-style lookups). */
export type TopologyWorkload = Omit<WorkloadDoc, 'service'> & {
  serviceAccount: string;
  service: { name: string; port: number; protocol: ServiceProtocol; portName?: string };
};
export interface TopologyCluster {
  name: string;
  workloads: TopologyWorkload[];
  /** Absolute paths of config files or folders. */
  config: string[];
}
export interface Topology {
  name: string;
  trustDomain: string;
  /** `spec.meshConfig` as written (validated), without trustDomain; each control plane reads it from mesh.yaml. */
  meshConfig: Record<string, unknown>;
  clusters: TopologyCluster[];
  /** Absolute path of the file it came from. */
  file: string;
}

/** Validates a parsed topology document. Errors are `path: message` lines. */
export function parseTopology(doc: unknown, file: string): Result<Topology> {
  const parsed = topologySchema.safeParse(doc);
  if (!parsed.success) return fail(formatZodIssues(parsed.error.issues));
  const v = parsed.data;
  const errors: string[] = [];
  const clusterNames = new Set<string>();
  v.spec.clusters.forEach((c, ci) => {
    if (clusterNames.has(c.name)) errors.push(`spec.clusters[${ci}].name: duplicate cluster "${c.name}"`);
    clusterNames.add(c.name);
    const names = new Set<string>();
    c.workloads.forEach((w, wi) => {
      const key = `${w.namespace}/${w.name}`;
      if (names.has(key)) errors.push(`spec.clusters[${ci}].workloads[${wi}].name: duplicate workload "${key}"`);
      names.add(key);
      const chosen = selectProtocol(w.service);
      if (!chosen.ok) for (const p of chosen.errors) errors.push(`spec.clusters[${ci}].workloads[${wi}].service.${p.field}: ${p.message}`);
      else if (chosen.value.protocol === 'tls' && w.app === 'echo') {
        errors.push(`spec.clusters[${ci}].workloads[${wi}].app: the built-in echo app needs a certificate for a tls port; give a command (meshfed echo --protocol tls --cert-file … --key-file …)`);
      }
      if (c.workloads.length > 200) errors.push(`spec.clusters[${ci}].workloads: at most 200 workloads per cluster`);
    });
  });
  const meshConfig = v.spec.meshConfig ?? {};
  const mesh = parseMeshConfigValue(meshConfig, file);
  if (!mesh.ok) for (const e of mesh.errors) errors.push(`spec.meshConfig${e.path !== '' ? `.${e.path}` : ''}: ${e.message}`);
  else if (mesh.value.trustDomain !== undefined && mesh.value.trustDomain !== v.spec.trustDomain) {
    errors.push(`spec.meshConfig.trustDomain: differs from spec.trustDomain (${v.spec.trustDomain}); set it there only`);
  }
  if (errors.length > 0) return fail(errors);
  const dir = path.dirname(file);
  return ok({
    name: v.metadata.name,
    trustDomain: v.spec.trustDomain,
    meshConfig,
    file,
    clusters: v.spec.clusters.map((c) => ({
      name: c.name,
      config: c.config.map((p) => path.resolve(dir, p)),
      workloads: c.workloads.map((w) => toWorkload(w)),
    })),
  });
}

function toWorkload(w: WorkloadDoc): TopologyWorkload {
  const chosen = selectProtocol(w.service);
  const { name, port, portName } = w.service;
  return {
    ...w,
    serviceAccount: w.serviceAccount ?? w.name,
    // parseTopology returned early when selection failed, so the fallback is never taken.
    service: { name, port, protocol: chosen.ok ? chosen.value.protocol : 'http', ...(portName !== undefined ? { portName } : {}) },
  };
}

export async function loadTopology(file: string): Promise<Result<Topology>> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e: unknown) {
    return fail([`${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e: unknown) {
    return fail([`${file}: invalid YAML: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const r = parseTopology(doc, abs);
  return r.ok ? r : fail(r.errors.map((m) => `${file}: ${m}`));
}
