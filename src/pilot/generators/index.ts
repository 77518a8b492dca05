export { generate, generationKey } from './generate.ts';
export { generateClusters } from './generator-clusters.ts';
export { generateEndpoints } from './generator-endpoints.ts';
export { generateListeners } from './generator-listeners.ts';
export { generateRoutes, sidecarDomains } from './generator-routes.ts';
export { formatFinding, type ProxylessFinding, proxylessFindings } from './generator-proxyless-findings.ts';
