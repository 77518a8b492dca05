import { cp, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_LIFETIME_SECONDS, generateTokenSigningKey, mintBoundToken, tokenIssuer } from '../../citadel/bound-token.ts';
import type { WorkloadRegistryFile, WorkloadSpec } from '../../common/workload.ts';
import type { ClusterPlan } from './address-plan.ts';
import type { TopologyCluster } from './topology.ts';

/**
 * The per-cluster files a control plane reads, under `<stateDir>/clusters/<cluster>/`:
 * workloads.json (Pilot's file registry), token-key.pem / token-key.pub.pem (the cluster's token
 * signing key; Citadel reads the public half), tokens/<ns>.<workload> (each sidecar's own token,
 * bound to its identity and short-lived: src/citadel/bound-token.ts), config/ (Pilot's watched config folder:
 * the topology's config under config/source/, `meshfed apply` writes under config/applied/),
 * mesh.yaml (the control plane's `--mesh-config`: the topology's meshConfig and trust domain).
 */
export interface ClusterPaths {
  dir: string;
  meshConfigFile: string;
  registryFile: string;
  tokenKeyFile: string;
  tokenPublicKeyFile: string;
  configDir: string;
  appliedDir: string;
  tokenFile(namespace: string, workload: string): string;
}

export function clusterPaths(stateDir: string, cluster: string): ClusterPaths {
  const dir = path.join(stateDir, 'clusters', cluster);
  return {
    dir,
    registryFile: path.join(dir, 'workloads.json'),
    tokenKeyFile: path.join(dir, 'token-key.pem'),
    tokenPublicKeyFile: path.join(dir, 'token-key.pub.pem'),
    meshConfigFile: path.join(dir, 'mesh.yaml'),
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
  const key = generateTokenSigningKey();
  await writeFile(paths.tokenKeyFile, key.privateKeyPem, { mode: 0o600 });
  await writeFile(paths.tokenPublicKeyFile, key.publicKeyPem);
  await writeWorkloadTokens(paths, cluster.name, specs);
  const sourceDir = path.join(paths.configDir, 'source');
  for (const [i, src] of cluster.config.entries()) {
    await cp(src, path.join(sourceDir, `${i}-${path.basename(src)}`), { recursive: true });
  }
}

/** Who gets a token: every sidecar'd workload, and the east-west gateway (it presents its identity on 15012). */
function tokenHolders(specs: WorkloadSpec[]): { namespace: string; serviceAccount: string; workload: string }[] {
  return [
    ...specs.filter((w) => w.sidecar).map((w) => ({ namespace: w.namespace, serviceAccount: w.serviceAccount, workload: w.name })),
    { ...GATEWAY_IDENTITY, workload: GATEWAY_IDENTITY.serviceAccount },
  ];
}

/**
 * Mints (again) one bound token per workload with the cluster's key, good for `lifetimeSeconds`,
 * and replaces each token file atomically, as the kubelet refreshes a projected token: sidecars
 * read their file at every CSR (`--token-file`). The runner calls it again before tokens expire.
 */
export async function writeWorkloadTokens(
  paths: ClusterPaths,
  cluster: string,
  specs: WorkloadSpec[],
  lifetimeSeconds = DEFAULT_TOKEN_LIFETIME_SECONDS,
): Promise<void> {
  const privateKeyPem = await readFile(paths.tokenKeyFile, 'utf8');
  for (const h of tokenHolders(specs)) {
    const token = await mintBoundToken(privateKeyPem, { issuer: tokenIssuer(cluster), audience: DEFAULT_TOKEN_AUDIENCE, ...h, lifetimeSeconds });
    const file = paths.tokenFile(h.namespace, h.workload);
    await writeFile(`${file}.tmp`, token, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }
}
