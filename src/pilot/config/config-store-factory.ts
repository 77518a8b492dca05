/**
 * Config stores chosen by name, like registries (registry-factory.ts). Only `folder` exists; the
 * custom-resource store (`crd`) joins when it is written.
 */
import type { Logger } from '../../common/log.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import type { ConfigStore } from './config-interface.ts';
import { createFolderConfigStore } from './config-store-folder.ts';

/** What every config store may need; each reads only its own fields. */
export interface ConfigStoreContext {
  readonly domainSuffix: string;
  readonly logger: Logger;
  /** `folder`: the watched configuration folder. */
  readonly configDir?: string;
}

type ConfigStoreMaker = (ctx: ConfigStoreContext) => Result<ConfigStore>;

const MAKERS: Readonly<Record<string, ConfigStoreMaker>> = {
  folder: (ctx) =>
    ctx.configDir === undefined || ctx.configDir === ''
      ? fail(['config store folder needs configDir'])
      : ok(createFolderConfigStore(ctx.configDir, ctx.logger, { domainSuffix: ctx.domainSuffix })),
};

/** The config store names createConfigStore knows, sorted. */
export const CONFIG_STORE_NAMES: readonly string[] = Object.freeze(Object.keys(MAKERS).sort());

/** Makes the config store called `name`; an unknown name fails naming the known ones. */
export function createConfigStore(name: string, ctx: ConfigStoreContext): Result<ConfigStore> {
  const make = Object.hasOwn(MAKERS, name) ? MAKERS[name] : undefined;
  if (make === undefined) return fail([`unknown config store ${JSON.stringify(name)}: known config stores are ${CONFIG_STORE_NAMES.join(', ')}`]);
  return make(ctx);
}
