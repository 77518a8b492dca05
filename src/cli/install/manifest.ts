/**
 * A Kubernetes object as `meshfed install` emits it: plain data, serialized by the `yaml` package.
 * Tests validate each one against Kubernetes' OpenAPI schemas (kubernetes-models).
 */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}
