/**
 * The xDS wire layer shared by Pilot and the proxies: the ADS client, the validators from decoded
 * Envoy resources to the proxies' normalized config, and the config types themselves.
 */
export { ADS_API_TYPES, type AdsApiType, PROXY_ADS_API_DEFAULT, isAdsApiType } from './ads-api-type.ts';
export { AdsClient, type AdsClientEvents, type AdsClientOptions, AdsClientOptionsError } from './ads-client.ts';
export type * from './config-types.ts';
export { validateCluster, validateClusterLoadAssignment, validateListener, validateRouteConfiguration } from './validate/index.ts';
