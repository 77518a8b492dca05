/**
 * Public surface of meshfed's federation component: the contract types, the controller, the
 * discovery backends and the pure Consul conversion.
 */
export type {
  ConflictVerdict,
  ExportConflictSource,
  ExportedService,
  FederationEvent,
  FirstSyncState,
  ImportedEndpoint,
  ImportSink,
  LocalExportState,
} from './federation-interface.ts';
export { type ClusterExport, compareExports, type ExportComparison } from './export-conflict.ts';
export { createExportConflictTracker, type ExportConflictTracker } from './export-conflict-tracker.ts';
export { type FederationHandle, type FederationOptions, startFederation } from './federation-controller.ts';
export { registerFederationTrustMetrics } from './federation-metrics.ts';
export type {
  Blocking,
  BlockingOptions,
  DiscoveryBackend,
  DiscoveryBackendKind,
} from './discovery-interface.ts';
export { trustBundleKey } from './discovery-interface.ts';
export { createDiscoveryBackend, type DiscoveryBackendOptions } from './discovery-backends.ts';
export type { ConsulDiscoveryOptions, ConsulTlsOptions } from './discovery-consul.ts';
export type { MemoryDiscoveryOptions } from './discovery-memory.ts';
export {
  type MemoryDiscoveryServer,
  type MemoryDiscoveryServerOptions,
  startMemoryDiscoveryServer,
} from './discovery-memory-server.ts';
export {
  CLUSTER_LABEL,
  type ConsulRegistration,
  fromHealthEntries,
  type HealthConversion,
  MESHFED_TAG,
  type RegistrationConversion,
  toRegistrations,
} from './consul/conversion.ts';
export {
  formatImportFile,
  IMPORT_FILE_API_VERSION,
  IMPORT_FILE_KIND,
  importFileName,
  parseImportFile,
} from './import-file.ts';
export { fanOutImportSink } from './import-sink-fanout.ts';
export { createImportFolderSink, type ImportFolderSink, type ImportFolderSinkOptions } from './import-folder-sink.ts';
export { DiscoveryError, FederationError, FederationOptionsError } from './federation-errors.ts';
export { type DesiredServiceImport, MANAGED_BY, MANAGED_BY_LABEL, type ServiceImportPort, toServiceImports } from './kube/service-import-conversion.ts';
export { createServiceImportWriter, type ServiceImportWriter, type ServiceImportWriterOptions } from './kube/service-import-writer.ts';
