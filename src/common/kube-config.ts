/**
 * Loading a KubeConfig for the parts of meshfed that talk to an API server (the kube registry, the
 * CRD config store, status and ServiceImport writers, Citadel's TokenReview, the root-certificate
 * publisher). `@kubernetes/client-node` is imported here on demand, so a process that never talks
 * to Kubernetes never loads it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from './errors.ts';
import { fail, ok, type Result } from './result.ts';

/**
 * `source` as a KubeConfig: a loaded one is returned as it is; a path is read from that file;
 * undefined takes client-node's default (KUBECONFIG, ~/.kube/config, else the in-cluster service
 * account). Fails, naming `who` and the file, when it cannot be read or has no current cluster.
 */
export async function loadKubeConfig(who: string, source: string | KubeConfig | undefined): Promise<Result<KubeConfig>> {
  const client = await import('@kubernetes/client-node');
  if (source instanceof client.KubeConfig) return ok(source);
  const where = typeof source === 'string' ? ` ${source}` : '';
  const kc = new client.KubeConfig();
  try {
    if (typeof source === 'string') kc.loadFromFile(source);
    else kc.loadFromDefault();
  } catch (e: unknown) {
    return fail([`${who}: cannot load kubeconfig${where}: ${errorMessage(e)}`]);
  }
  if (kc.getCurrentCluster() === null) return fail([`${who}: kubeconfig${where} has no current cluster`]);
  return ok(kc);
}
