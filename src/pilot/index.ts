export {
  ConfigError,
  type ConfigObject,
  type ConfigStore,
  configKey,
  createFolderConfigStore,
  loadConfigPaths,
  parseConfigText,
} from './config/index.ts';
export { generate, generationKey } from './generators/index.ts';
export { buildSnapshot, diffSnapshots, exportState, type Snapshot, type SnapshotChange, type SnapshotInput } from './model/index.ts';
export { createPilot, type Pilot, type PilotOptions, PilotOptionsError, type PilotPush } from './pilot.ts';
export type { RegistryShard, ServiceRegistry } from './registry/index.ts';
export * from './ads/index.ts';
export * from './server/index.ts';
