export { ConfigError, type ConfigErrorCode, type ConfigErrorFields } from './config-error.ts';
export { isExportedTo, resolveHost, toExportTo } from './config-hosts.ts';
export type { ConfigStore } from './config-interface.ts';
export { loadConfigPaths } from './config-load.ts';
export { type ParseOptions, parseConfigText } from './config-parse.ts';
export { createFolderConfigStore, type FolderConfigStoreOptions } from './config-store-folder.ts';
export { CONFIG_STORE_NAMES, type ConfigStoreContext, createConfigStore, createConfigStores } from './config-store-factory.ts';
export { configKey } from './config-types.ts';
export type {
  ConfigKind,
  ConfigMeta,
  ConfigObject,
  DestinationRuleConfig,
  DestinationRuleSpec,
  HttpMatchRequest,
  HttpRoute,
  HttpRouteDestination,
  ClientTlsSettings,
  ConnectionPoolSettings,
  ConsistentHashKey,
  ConsistentHashSettings,
  LoadBalancerSettings,
  LocalityLbSetting,
  LoadBalancerSimple,
  OutlierDetectionSettings,
  MtlsMode,
  PeerAuthenticationConfig,
  PeerAuthenticationSpec,
  PortTrafficPolicy,
  TrafficPolicy,
  TrafficPolicySections,
  RouteDestination,
  ServiceEntryConfig,
  ServiceEntryEndpoint,
  ServiceEntryPort,
  ServiceEntrySpec,
  ServiceExportConfig,
  SidecarConfig,
  SidecarEgressHost,
  SidecarEgressListener,
  SidecarSpec,
  ExportTo,
  StringMatch,
  Subset,
  VirtualServiceConfig,
  VirtualServiceSpec,
} from './config-types.ts';
