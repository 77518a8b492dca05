/** Validators from decoded Envoy resources to the proxies' normalized config (config-types.ts). */
export { validateCluster } from './cluster.ts';
export { validateClusterLoadAssignment } from './cluster-load-assignment.ts';
export { validateListener } from './listener.ts';
export { validateRouteConfiguration } from './route-configuration.ts';
