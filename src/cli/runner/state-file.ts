import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { formatZodIssues } from '../../common/zod-issues.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { SERVICE_PROTOCOLS } from '../../common/service-protocol.ts';

/**
 * `<stateDir>/state.json`, written by `meshfed up` once everything is ready and read by `status`,
 * `curl`, `apply`, the demo and the tests. Addresses are `host:port`; URLs are full.
 */
const workloadState = z.object({
  cluster: z.string(),
  namespace: z.string(),
  name: z.string(),
  address: z.string(),
  spiffeId: z.string(),
  service: z.object({ name: z.string(), hostname: z.string(), port: z.number(), protocol: z.enum(SERVICE_PROTOCOLS) }),
  labels: z.record(z.string(), z.string()),
  app: z.string(),
  sidecar: z
    .object({
      outbound: z.string(),
      inbound: z.string(),
      admin: z.string(),
      health: z.string(),
      metrics: z.string(),
    })
    .nullable(),
});

const clusterState = z.object({
  name: z.string(),
  netns: z.string().nullable(),
  configDir: z.string(),
  controlPlane: z.object({
    address: z.string(),
    xds: z.string(),
    xdsTls: z.string(),
    monitoring: z.string(),
    /** Present when `meshfed up --control-plane split` ran each part as its own process. */
    split: z
      .object({ citadel: z.string(), mixer: z.string(), mixerMetrics: z.string(), federation: z.string() })
      .optional(),
  }),
  gateway: z.object({ address: z.string(), admin: z.string(), metrics: z.string() }),
  /** The agent's API (https:// when secured), with the controller's token and CA files then. */
  consul: z.object({ http: z.string(), datacenter: z.string(), tokenFile: z.string().optional(), caFile: z.string().optional() }).nullable(),
  workloads: z.array(workloadState),
});

const stateSchema = z.object({
  name: z.string(),
  runnerPid: z.number(),
  stateDir: z.string(),
  trustDomain: z.string(),
  discovery: z.enum(['consul', 'memory']),
  network: z.enum(['loopback', 'netns']),
  memoryDiscovery: z.string().nullable(),
  /** Prometheus scraping the mesh (`meshfed up --prometheus`). */
  prometheus: z.string().nullable().optional(),
  clusters: z.array(clusterState),
  /** Every process the runner started, by display name and PID (written once all are ready). */
  processes: z.array(z.object({ name: z.string(), pid: z.number() })).optional(),
});

export type MeshState = z.infer<typeof stateSchema>;
export type ClusterState = z.infer<typeof clusterState>;
export type WorkloadState = z.infer<typeof workloadState>;

export { DEFAULT_STATE_DIR } from './state-dir.ts';

export function stateFilePath(stateDir: string): string {
  return path.join(stateDir, 'state.json');
}

export async function writeState(state: MeshState): Promise<void> {
  const file = stateFilePath(state.stateDir);
  await writeFile(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

export async function readState(stateDir: string): Promise<Result<MeshState>> {
  const file = stateFilePath(stateDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return fail([`no running mesh found: ${file} does not exist (start one with \`meshfed up -f mesh.yaml\`)`]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail([`${file}: not valid JSON`]);
  }
  const r = stateSchema.safeParse(doc);
  return r.success ? ok(r.data) : fail(formatZodIssues(r.error.issues).map((m) => `${file}: ${m}`));
}

/** Finds `<cluster>/<namespace>/<workload>` in the state. */
export function findWorkload(state: MeshState, ref: string): Result<WorkloadState> {
  const parts = ref.split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) {
    return fail([`--from must be <cluster>/<namespace>/<workload>, got "${ref}"`]);
  }
  const [cluster, namespace, name] = parts;
  const w = state.clusters
    .find((c) => c.name === cluster)
    ?.workloads.find((x) => x.namespace === namespace && x.name === name);
  return w ? ok(w) : fail([`no workload ${ref} in mesh ${state.name}`]);
}
