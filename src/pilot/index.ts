export {
  ConfigError,
  type ConfigObject,
  type ConfigStore,
  configKey,
  createFolderConfigStore,
  loadConfigPaths,
  parseConfigText,
} from './config/index.ts';
export { generate } from './generators/index.ts';
export { buildSnapshot, exportState, type Snapshot, type SnapshotInput } from './model/index.ts';
export { createPilot, type Pilot, type PilotOptions, PilotOptionsError } from './pilot.ts';
export type { RegistryShard, ServiceRegistry } from './registry/index.ts';
export * from './ads/index.ts';
