import { type ProtoStruct, toStruct } from './struct.ts';

/**
 * The telemetry attributes meshfed's proxies attach to each access-log entry they stream to Mixer
 * (ALS v3), as a Struct in `common_properties.metadata.filter_metadata.meshfed`. The sidecar
 * writes them with `meshAttributesStruct`; Mixer reads them by `MESH_ATTRIBUTE_KEYS`.
 */
export const MESH_ATTRIBUTES_NAMESPACE = 'meshfed';

/** Struct key of each attribute (Istio's label names). */
export const MESH_ATTRIBUTE_KEYS = {
  reporter: 'reporter',
  sourceWorkload: 'source_workload',
  sourceNamespace: 'source_namespace',
  sourceCluster: 'source_cluster',
  destinationService: 'destination_service',
  destinationWorkload: 'destination_workload',
  destinationCluster: 'destination_cluster',
  connectionSecurityPolicy: 'connection_security_policy',
} as const;

export type MeshAttributes = { [K in keyof typeof MESH_ATTRIBUTE_KEYS]: string };

/** The Struct a proxy sends under `filter_metadata.meshfed`. */
export function meshAttributesStruct(a: MeshAttributes): ProtoStruct {
  const out: Record<string, string> = {};
  for (const [field, key] of Object.entries(MESH_ATTRIBUTE_KEYS)) out[key] = a[field as keyof MeshAttributes];
  return toStruct(out);
}
