/**
 * The custom resources the CRD config store watches: every kind config-parse.ts accepts as
 * configuration (ServiceImport is written by meshfed, not read). Each is served at one storage
 * version; other versions reach the store converted by the API server.
 */
export interface CrdKind {
  group: string;
  version: string;
  /** The resource name in URLs (lower-case plural). */
  plural: string;
  kind: string;
  /** Status shape written back: Istio's IstioStatus, or MCS ServiceExport conditions. */
  status: 'istio' | 'mcs-export';
}

export const CRD_KINDS: readonly CrdKind[] = Object.freeze([
  { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices', kind: 'VirtualService', status: 'istio' },
  { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules', kind: 'DestinationRule', status: 'istio' },
  { group: 'networking.istio.io', version: 'v1', plural: 'serviceentries', kind: 'ServiceEntry', status: 'istio' },
  { group: 'networking.istio.io', version: 'v1', plural: 'sidecars', kind: 'Sidecar', status: 'istio' },
  { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies', kind: 'AuthorizationPolicy', status: 'istio' },
  { group: 'security.istio.io', version: 'v1', plural: 'peerauthentications', kind: 'PeerAuthentication', status: 'istio' },
  { group: 'security.istio.io', version: 'v1', plural: 'requestauthentications', kind: 'RequestAuthentication', status: 'istio' },
  { group: 'multicluster.x-k8s.io', version: 'v1alpha1', plural: 'serviceexports', kind: 'ServiceExport', status: 'mcs-export' },
]);

/** `plural.group`, as Kubernetes names a resource. */
export function resourceName(k: CrdKind): string {
  return `${k.plural}.${k.group}`;
}
