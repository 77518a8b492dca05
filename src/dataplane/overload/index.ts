/** The overload manager shared by the sidecar and the gateway (Envoy's, for heap pressure). */
export {
  DEFAULT_OVERLOAD_RATIOS,
  OVERLOAD,
  type OverloadManager,
  type OverloadOptions,
  OverloadOptionsError,
  type OverloadState,
  startOverloadManager,
  validateOverloadOptions,
} from './overload-manager.ts';
