export { createFederationRegistry, type FederationRegistry } from './registry-federation.ts';
export { createRegistry, REGISTRY_NAMES, type RegistryContext } from './registry-factory.ts';
export { createFileRegistry, type FileRegistry, type FileRegistryOptions, parseWorkloadRegistry } from './registry-file.ts';
export type { RegistryChange, RegistryShard, ServiceRegistry } from './registry-interface.ts';
export type { EndpointHealth, EndpointLocality, RegistryEndpoint, RegistryService, RegistryServicePort } from './registry-types.ts';
export { serviceHostname, workloadEndpoint, workloadServices, workloadShard, type WorkloadShardInput } from './workload-conversion.ts';
