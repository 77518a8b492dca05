/**
 * Config stores chosen by name, like registries (registry-factory.ts): `file` (a watched folder
 * of YAML) and `crd` (Kubernetes custom resources). The CRD store and its client library are loaded
 * only when `crd` is asked for. Several stores are served as one (config-store-aggregate.ts).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.ts';
import { loadKubeConfig } from '../../common/kube-config.ts';
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import type { ConfigStore } from './config-interface.ts';
import { aggregateConfigStores } from './config-store-aggregate.ts';
import { createFolderConfigStore } from './config-store-folder.ts';
import type { CrdStatusOptions } from './crd/crd-store.ts';

/** What every config store may need; each reads only its own fields. */
export interface ConfigStoreContext {
  readonly domainSuffix: string;
  readonly logger: Logger;
  /** `file`: the watched configuration folder. */
  readonly configDir?: string;
  /**
   * `crd`: the path of a kubeconfig file, or a loaded KubeConfig; absent: client-node's default
   * (KUBECONFIG, ~/.kube/config, else the in-cluster service account).
   */
  readonly kubeconfig?: string | KubeConfig;
  /**
   * `crd`: write status back to the custom resources while this replica holds the status Lease
   * (the control plane does); absent, the store only reads.
   */
  readonly status?: CrdStatusOptions;
}

type ConfigStoreMaker = (ctx: ConfigStoreContext) => Promise<Result<ConfigStore>>;

async function makeCrd(ctx: ConfigStoreContext): Promise<Result<ConfigStore>> {
  const loaded = await loadKubeConfig('config store crd', ctx.kubeconfig);
  if (!loaded.ok) return loaded;
  const { createCrdConfigStore } = await import('./crd/crd-store.ts');
  try {
    return ok(
      createCrdConfigStore({
        kubeConfig: loaded.value,
        logger: ctx.logger,
        domainSuffix: ctx.domainSuffix,
        ...(ctx.status !== undefined ? { status: ctx.status } : {}),
      }),
    );
  } catch (e: unknown) {
    // Invalid Lease options (LeaseOptionsError names the field).
    return fail([`config store crd: ${errorMessage(e)}`]);
  }
}

const MAKERS: Readonly<Record<string, ConfigStoreMaker>> = {
  crd: makeCrd,
  file: async (ctx) =>
    ctx.configDir === undefined || ctx.configDir === ''
      ? fail(['config store file needs configDir'])
      : ok(createFolderConfigStore(ctx.configDir, ctx.logger, { domainSuffix: ctx.domainSuffix })),
};

/** The config store names createConfigStore knows, sorted. */
export const CONFIG_STORE_NAMES: readonly string[] = Object.freeze(Object.keys(MAKERS).sort());

/** Makes the config store called `name`; an unknown name, or a context it cannot use, fails with why. */
export async function createConfigStore(name: string, ctx: ConfigStoreContext): Promise<Result<ConfigStore>> {
  const make = Object.hasOwn(MAKERS, name) ? MAKERS[name] : undefined;
  if (make === undefined) return fail([`unknown config store ${JSON.stringify(name)}: known config stores are ${CONFIG_STORE_NAMES.join(', ')}`]);
  return make(ctx);
}

/**
 * Makes every store in `names` and serves them as one (a single name: that store itself). When
 * one cannot be made, those already made are closed and the failure is returned.
 */
export async function createConfigStores(names: readonly string[], ctx: ConfigStoreContext): Promise<Result<ConfigStore>> {
  const made: ConfigStore[] = [];
  for (const name of names) {
    const r = await createConfigStore(name, ctx);
    if (!r.ok) {
      await Promise.all(made.map((s) => s.close()));
      return r;
    }
    made.push(r.value);
  }
  const [only] = made;
  return ok(made.length === 1 && only !== undefined ? only : aggregateConfigStores(made));
}
