export { convertEndpointSlice, convertService, type EndpointContext, type ServiceConversion } from './conversion.ts';
export { createKubeRegistry, type KubeRegistry, type KubeRegistryOptions } from './kube-registry.ts';
