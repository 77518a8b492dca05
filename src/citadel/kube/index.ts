/**
 * Citadel's Kubernetes side: publishing the mesh's root in a cluster (ConfigMaps and webhook
 * caBundles). Kept apart from src/citadel/index.ts so that processes that never talk to an API
 * server do not load it; the control plane imports it when it runs in Kubernetes.
 */
export {
  type CaBundlePatchOperation,
  caBundleOf,
  caBundlePatch,
  type ConfigMapLike,
  type NamespaceLike,
  ROOT_CERT_CONFIGMAP,
  ROOT_CERT_IGNORED_NAMESPACES,
  ROOT_CERT_KEY,
  ROOT_CERT_LABELS,
  type RootCertConfigMapAction,
  rootCertConfigMapAction,
} from './root-cert-conversion.ts';
export { type RootCertPublisher, type RootCertPublisherOptions, startRootCertPublisher } from './root-cert-publisher.ts';
