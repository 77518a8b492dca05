/**
 * Registries chosen by name (STYLE.md 2): Pilot's options name them, this file makes them. The
 * kube registry and its client library are loaded only when `kube` is asked for.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../common/kube-config.ts';
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { createFederationRegistry } from './registry-federation.ts';
import { createFileRegistry } from './registry-file.ts';
import type { ServiceRegistry } from './registry-interface.ts';

/** What every registry may need; each reads only its own fields. */
export interface RegistryContext {
  readonly cluster: string;
  readonly domainSuffix: string;
  readonly logger: Logger;
  /** `file`: the cluster's WorkloadRegistryFile. */
  readonly registryFile?: string;
  /**
   * `kube`: the path of a kubeconfig file, or a loaded KubeConfig; absent: client-node's default
   * (KUBECONFIG, ~/.kube/config, else the in-cluster service account).
   */
  readonly kubeconfig?: string | KubeConfig;
  /** `kube`: this cluster's east-west gateway address, put on its shard. */
  readonly gatewayAddress?: string;
}

type RegistryMaker = (ctx: RegistryContext) => Promise<Result<ServiceRegistry>>;

async function makeKube(ctx: RegistryContext): Promise<Result<ServiceRegistry>> {
  const loaded = await loadKubeConfig('registry kube', ctx.kubeconfig);
  if (!loaded.ok) return loaded;
  const kc = loaded.value;
  const { createKubeRegistry } = await import('./kube/kube-registry.ts');
  return ok(
    createKubeRegistry({
      cluster: ctx.cluster,
      domainSuffix: ctx.domainSuffix,
      kubeConfig: kc,
      logger: ctx.logger,
      ...(ctx.gatewayAddress !== undefined ? { gatewayAddress: ctx.gatewayAddress } : {}),
    }),
  );
}

const MAKERS: Readonly<Record<string, RegistryMaker>> = {
  file: async (ctx) =>
    ctx.registryFile === undefined || ctx.registryFile === ''
      ? fail(['registry file needs registryFile'])
      : ok(createFileRegistry(ctx.registryFile, ctx.logger, { domainSuffix: ctx.domainSuffix })),
  federation: async () => ok(createFederationRegistry()),
  kube: makeKube,
};

/** The registry names createRegistry knows, sorted. */
export const REGISTRY_NAMES: readonly string[] = Object.freeze(Object.keys(MAKERS).sort());

/** Makes the registry called `name`; an unknown name, or a context it cannot use, fails with why. */
export async function createRegistry(name: string, ctx: RegistryContext): Promise<Result<ServiceRegistry>> {
  const make = Object.hasOwn(MAKERS, name) ? MAKERS[name] : undefined;
  if (make === undefined) return fail([`unknown registry ${JSON.stringify(name)}: known registries are ${REGISTRY_NAMES.join(', ')}`]);
  return make(ctx);
}
