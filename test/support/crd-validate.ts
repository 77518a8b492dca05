import { Ajv, type ErrorObject } from 'ajv';

/**
 * Validates custom resources against the `openAPIV3Schema` of their CustomResourceDefinition, the
 * way the API server's schema validation does for the keywords meshfed emits (types, required,
 * enum, pattern, bounds; unknown `x-kubernetes-*` keywords ignored). Offline stand-in for the API
 * server's CRD validation, with ajv as the independent JSON Schema implementation.
 */
export interface CrdLike {
  spec: { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: object } }[] };
}

export type CrValidator = (doc: { apiVersion: string; kind: string }) => string[];

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`);
}

export function crValidator(crds: readonly CrdLike[]): CrValidator {
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
  const byKey = new Map<string, ReturnType<typeof ajv.compile>>();
  for (const crd of crds) {
    for (const v of crd.spec.versions) byKey.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, ajv.compile(v.schema.openAPIV3Schema));
  }
  return (doc) => {
    const validate = byKey.get(`${doc.apiVersion}/${doc.kind}`);
    if (!validate) return [`no CRD serves ${doc.apiVersion} ${doc.kind}`];
    return validate(doc) ? [] : describe(validate.errors);
  };
}
