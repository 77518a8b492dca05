/** Mixer: the mesh's telemetry hub (access-log sink → mesh-wide metrics). */
export { parseAccessLogEntry, type MeshEntry, MESHFED_METADATA } from './access-log-entry.ts';
export {
  ACCESS_LOG_SERVICE_NAME,
  createMixerService,
  type MixerService,
  type MixerServiceOptions,
  type MixerStats,
} from './access-log-service.ts';
export { MixerError, MixerListenError, MixerOptionsError } from './errors.ts';
export { type MixerHandle, type StartMixerOptions, startMixer } from './mixer-server.ts';
