import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BootstrapTokenFile, WorkloadRegistryFile, WorkloadSpec } from '../../common/workload.ts';
import type { ClusterPlan } from './address-plan.ts';
import type { TopologyCluster } from './topology.ts';

/**
 * The per-cluster files a control plane reads, under `<stateDir>/clusters/<cluster>/`:
 * workloads.json (Pilot's file registry), tokens.json (Citadel's bootstrap tokens, hashed),
 * tokens/<ns>.<workload> (each sidecar's own token), config/ (Pilot's watched config folder:
 * the topology's config under config/source/, `meshfed apply` writes under config/applied/),
 * mesh.yaml (the control plane's `--mesh-config`: the topology's meshConfig and trust domain).
 */
export interface ClusterPaths {
  dir: string;
  meshConfigFile: string;
  registryFile: string;
  tokensFile: string;
  configDir: string;
  appliedDir: string;
  tokenFile(namespace: string, workload: string): string;
}

export function clusterPaths(stateDir: string, cluster: string): ClusterPaths {
  const dir = path.join(stateDir, 'clusters', cluster);
  return {
    dir,
    registryFile: path.join(dir, 'workloads.json'),
    meshConfigFile: path.join(dir, 'mesh.yaml'),
    tokensFile: path.join(dir, 'tokens.json'),
    configDir: path.join(dir, 'config'),
    appliedDir: path.join(dir, 'config', 'applied'),
    tokenFile: (ns, w) => path.join(dir, 'tokens', `${ns}.${w}`),
  };
}

export function workloadSpecs(cluster: TopologyCluster, plan: ClusterPlan): WorkloadSpec[] {
  return cluster.workloads.map((w, i) => ({
    name: w.name,
    namespace: w.namespace,
    serviceAccount: w.serviceAccount,
    cluster: cluster.name,
    address: plan.workloads[i] ?? '',
    labels: w.labels,
    service: { name: w.service.name, port: w.service.port, protocol: w.service.protocol },
    sidecar: w.sidecar,
  }));
}

/** The namespace and service account of every cluster's east-west gateway (its token file's name too). */
export const GATEWAY_IDENTITY = { namespace: 'istio-system', serviceAccount: 'istio-eastwestgateway' } as const;

export async function writeClusterFiles(
  paths: ClusterPaths,
  cluster: TopologyCluster,
  specs: WorkloadSpec[],
  gatewayAddress: string,
  mesh: { trustDomain: string; meshConfig: Readonly<Record<string, unknown>> },
): Promise<void> {
  await mkdir(path.join(paths.dir, 'tokens'), { recursive: true, mode: 0o700 });
  await mkdir(paths.appliedDir, { recursive: true });
  // JSON is YAML: the control plane parses it with its YAML reader.
  await writeFile(paths.meshConfigFile, `${JSON.stringify({ ...mesh.meshConfig, trustDomain: mesh.trustDomain }, null, 2)}\n`);
  const registry: WorkloadRegistryFile = { cluster: cluster.name, gatewayAddress, workloads: specs };
  await writeFile(paths.registryFile, `${JSON.stringify(registry, null, 2)}\n`);
  const tokens: BootstrapTokenFile = { tokens: {} };
  for (const w of specs) {
    if (!w.sidecar) continue;
    const token = randomBytes(24).toString('base64url');
    tokens.tokens[createHash('sha256').update(token).digest('hex')] = {
      namespace: w.namespace,
      serviceAccount: w.serviceAccount,
      workload: w.name,
    };
    await writeFile(paths.tokenFile(w.namespace, w.name), token, { mode: 0o600 });
  }
  // The east-west gateway's identity, as Istio's istio-eastwestgateway: it presents it on 15012.
  const gwToken = randomBytes(24).toString('base64url');
  tokens.tokens[createHash('sha256').update(gwToken).digest('hex')] = { ...GATEWAY_IDENTITY, workload: GATEWAY_IDENTITY.serviceAccount };
  await writeFile(paths.tokenFile(GATEWAY_IDENTITY.namespace, GATEWAY_IDENTITY.serviceAccount), gwToken, { mode: 0o600 });
  await writeFile(paths.tokensFile, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  const sourceDir = path.join(paths.configDir, 'source');
  for (const [i, src] of cluster.config.entries()) {
    await cp(src, path.join(sourceDir, `${i}-${path.basename(src)}`), { recursive: true });
  }
}
