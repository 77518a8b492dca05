/**
 * Envoy's bootstrap `ads_config.api_type` for the proxies' ADS client: `GRPC` (state of the world,
 * StreamAggregatedResources) or `DELTA_GRPC` (incremental, DeltaAggregatedResources).
 */
export type AdsApiType = 'GRPC' | 'DELTA_GRPC';

export const ADS_API_TYPES: readonly AdsApiType[] = ['GRPC', 'DELTA_GRPC'];

/** What meshfed's own sidecars and gateways use unless their options say otherwise. */
export const PROXY_ADS_API_DEFAULT: AdsApiType = 'DELTA_GRPC';

export function isAdsApiType(v: unknown): v is AdsApiType {
  return typeof v === 'string' && (ADS_API_TYPES as readonly string[]).includes(v);
}
