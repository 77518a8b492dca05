/**
 * Registries chosen by name (STYLE.md 2): Pilot's options name them, this file makes them. A name
 * is listed only once its registry exists and is tested end to end; `kube` joins when its watch
 * tests pass (src/pilot/registry/kube/).
 */
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
}

type RegistryMaker = (ctx: RegistryContext) => Result<ServiceRegistry>;

const MAKERS: Readonly<Record<string, RegistryMaker>> = {
  file: (ctx) =>
    ctx.registryFile === undefined || ctx.registryFile === ''
      ? fail(['registry file needs registryFile'])
      : ok(createFileRegistry(ctx.registryFile, ctx.logger, { domainSuffix: ctx.domainSuffix })),
  federation: () => ok(createFederationRegistry()),
};

/** The registry names createRegistry knows, sorted. */
export const REGISTRY_NAMES: readonly string[] = Object.freeze(Object.keys(MAKERS).sort());

/** Makes the registry called `name`; an unknown name fails naming the known ones. */
export function createRegistry(name: string, ctx: RegistryContext): Result<ServiceRegistry> {
  const make = Object.hasOwn(MAKERS, name) ? MAKERS[name] : undefined;
  if (make === undefined) return fail([`unknown registry ${JSON.stringify(name)}: known registries are ${REGISTRY_NAMES.join(', ')}`]);
  return make(ctx);
}
