/** Pilot's ADS push server (xDS v3, state of the world and delta). */
export { ADS_SERVICE, AdsServer, type AdsServerOptions } from './ads-server.ts';
export type { ProxyStatus, TypeStatus } from './ads-stream.ts';
export { AdsOptionsError } from './ads-errors.ts';
export type { AdsMetrics, GenerationKey, PushRequest, PushSnapshot, ResourceGenerator } from './push-interface.ts';
