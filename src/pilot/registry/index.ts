export { createFederationRegistry, type FederationRegistry } from './registry-federation.ts';
export { createFileRegistry, type FileRegistry, type FileRegistryOptions, parseWorkloadRegistry } from './registry-file.ts';
export type { RegistryShard, ServiceRegistry } from './registry-interface.ts';
