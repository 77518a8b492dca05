import type { z } from 'zod';
import { destinationRuleSpecSchema, serviceEntrySpecSchema, serviceExportSpecSchema, virtualServiceSpecSchema } from '../../pilot/config/config-schema.ts';
import { sidecarSpecSchema } from '../../pilot/config/config-schema-sidecar.ts';
import { authorizationPolicySpecSchema } from '../../pilot/config/config-schema-authorization-policy.ts';
import { peerAuthenticationSpecSchema } from '../../pilot/config/config-schema-peer-authentication.ts';
import { requestAuthenticationSpecSchema } from '../../pilot/config/config-schema-request-authentication.ts';
import { serviceImportSpecSchema } from '../../pilot/config/config-schema-service-import.ts';
import { type StructuralSchema, toStructuralSchema } from './crd-schema.ts';
import type { Manifest } from './manifest.ts';

/** One custom resource kind meshfed reads (or, for ServiceImport, writes). */
export interface CrdKind {
  group: string;
  kind: string;
  plural: string;
  shortNames: string[];
  /** Served versions; the first is the storage version. */
  versions: string[];
  categories: string[];
  spec: z.ZodType;
  specRequired: boolean;
}

const NETWORKING = ['v1', 'v1beta1', 'v1alpha3'];
const SECURITY = ['v1', 'v1beta1'];
const ISTIO_CATEGORIES = ['istio-io', 'networking-istio-io'];
const SECURITY_CATEGORIES = ['istio-io', 'security-istio-io'];

/**
 * Every kind `parseConfigText` accepts, plus ServiceImport (written by federation). Versions are
 * the ones the parser accepts, so a CR the API server stores is one meshfed can read.
 */
export const CRD_KINDS: readonly CrdKind[] = [
  { group: 'networking.istio.io', kind: 'VirtualService', plural: 'virtualservices', shortNames: ['vs'], versions: NETWORKING, categories: ISTIO_CATEGORIES, spec: virtualServiceSpecSchema, specRequired: true },
  { group: 'networking.istio.io', kind: 'DestinationRule', plural: 'destinationrules', shortNames: ['dr'], versions: NETWORKING, categories: ISTIO_CATEGORIES, spec: destinationRuleSpecSchema, specRequired: true },
  { group: 'networking.istio.io', kind: 'ServiceEntry', plural: 'serviceentries', shortNames: ['se'], versions: NETWORKING, categories: ISTIO_CATEGORIES, spec: serviceEntrySpecSchema, specRequired: true },
  { group: 'networking.istio.io', kind: 'Sidecar', plural: 'sidecars', shortNames: [], versions: NETWORKING, categories: ISTIO_CATEGORIES, spec: sidecarSpecSchema, specRequired: true },
  { group: 'security.istio.io', kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', shortNames: ['ap'], versions: SECURITY, categories: SECURITY_CATEGORIES, spec: authorizationPolicySpecSchema, specRequired: false },
  { group: 'security.istio.io', kind: 'PeerAuthentication', plural: 'peerauthentications', shortNames: ['pa'], versions: SECURITY, categories: SECURITY_CATEGORIES, spec: peerAuthenticationSpecSchema, specRequired: false },
  { group: 'security.istio.io', kind: 'RequestAuthentication', plural: 'requestauthentications', shortNames: ['ra'], versions: SECURITY, categories: SECURITY_CATEGORIES, spec: requestAuthenticationSpecSchema, specRequired: false },
  { group: 'multicluster.x-k8s.io', kind: 'ServiceExport', plural: 'serviceexports', shortNames: ['svcex'], versions: ['v1alpha1'], categories: [], spec: serviceExportSpecSchema, specRequired: false },
  { group: 'multicluster.x-k8s.io', kind: 'ServiceImport', plural: 'serviceimports', shortNames: ['svcim'], versions: ['v1alpha1'], categories: [], spec: serviceImportSpecSchema, specRequired: true },
];

/** Status is written by meshfed (conditions, validation messages): open, preserved as written. */
const STATUS: StructuralSchema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

/** The whole object's schema: apiVersion, kind, metadata (the API server's own), spec, status. */
export function crdObjectSchema(k: CrdKind): StructuralSchema {
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: toStructuralSchema(k.spec),
      status: STATUS,
    },
    ...(k.specRequired ? { required: ['spec'] } : {}),
  };
}

export function crdManifest(k: CrdKind): Manifest {
  const schema = crdObjectSchema(k);
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${k.plural}.${k.group}`, labels: { 'app.kubernetes.io/part-of': 'meshfed' } },
    spec: {
      group: k.group,
      scope: 'Namespaced',
      names: {
        kind: k.kind,
        listKind: `${k.kind}List`,
        plural: k.plural,
        singular: k.kind.toLowerCase(),
        ...(k.shortNames.length > 0 ? { shortNames: k.shortNames } : {}),
        ...(k.categories.length > 0 ? { categories: k.categories } : {}),
      },
      versions: k.versions.map((v, i) => ({
        name: v,
        served: true,
        storage: i === 0,
        subresources: { status: {} },
        schema: { openAPIV3Schema: schema },
      })),
    },
  };
}

export function crdManifests(): Manifest[] {
  return CRD_KINDS.map(crdManifest);
}
