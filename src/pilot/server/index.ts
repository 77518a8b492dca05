export { createDiscoveryServer, type DiscoveryServer, type DiscoveryServerOptions } from './discovery-server.ts';
