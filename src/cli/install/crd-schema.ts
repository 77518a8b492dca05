import { z } from 'zod';

/**
 * Translates a zod schema of a validator into the structural-schema subset of OpenAPI v3 that a
 * Kubernetes `CustomResourceDefinition` (apiextensions.k8s.io/v1) accepts. A pure function: the
 * CRDs `meshfed install` prints are generated from the very schemas `parseConfigText` uses, so the
 * API server and meshfed agree on field names, types, enums, patterns and bounds.
 *
 * The rules of a structural schema that shape the output:
 * - every node has a `type`, except an open node, which is `x-kubernetes-preserve-unknown-fields`
 *   (only where the zod schema is `unknown`, i.e. really open);
 * - `additionalProperties` never appears beside `properties`, and never as `false` (strict objects
 *   are enforced by the API server's strict field validation and by meshfed's validator);
 * - no `$ref`, `anyOf`, `oneOf`, `allOf` or `not` carrying types: meshfed's schemas use none, and a
 *   new construct that cannot be expressed throws here (a programmer error the tests catch).
 * Cross-field rules (`superRefine`, `refine`) stay with meshfed's validator and its webhook.
 */

/** One node of a structural schema (the fields of `JSONSchemaProps` meshfed emits). */
export interface StructuralSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  items?: StructuralSchema;
  enum?: (string | number | boolean)[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  nullable?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: true;
}

/** Formats of JSON Schema that Kubernetes validates, by the name Kubernetes gives them. */
const FORMATS: ReadonlyMap<string, string> = new Map([
  ['base64', 'byte'],
  ['byte', 'byte'],
  ['email', 'email'],
  ['uri', 'uri'],
  ['uuid', 'uuid'],
  ['ipv4', 'ipv4'],
  ['ipv6', 'ipv6'],
  ['date', 'date'],
  ['date-time', 'date-time'],
  ['hostname', 'hostname'],
]);

/** Keys of zod's JSON Schema output that carry nothing for Kubernetes. */
const DROPPED = new Set(['$schema', 'contentEncoding', 'id', 'title', 'examples']);
const TYPES = new Set(['object', 'array', 'string', 'integer', 'number', 'boolean']);

export class CrdSchemaError extends Error {
  readonly code = 'CRD_SCHEMA_UNREPRESENTABLE';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function numberAt(node: Record<string, unknown>, key: string, at: string): number | undefined {
  const v = node[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new CrdSchemaError(`${at}: ${key} must be a number`);
  // z.int() bounds itself to the safe integers; Kubernetes integers are int64 already.
  if (Math.abs(v) === Number.MAX_SAFE_INTEGER) return undefined;
  return v;
}

/** Converts one JSON Schema node (zod's `openapi-3.0` output) at path `at`. */
function convertNode(node: unknown, at: string): StructuralSchema {
  if (!isRecord(node)) throw new CrdSchemaError(`${at}: not a schema object`);
  for (const key of ['$ref', 'anyOf', 'oneOf', 'allOf', 'not', 'const', 'propertyNames', 'patternProperties', 'exclusiveMinimum', 'exclusiveMaximum']) {
    if (node[key] !== undefined) throw new CrdSchemaError(`${at}: ${key} cannot be expressed in a structural schema`);
  }
  const type = node['type'];
  if (type === undefined) {
    const meaningful = Object.keys(node).filter((k) => !DROPPED.has(k) && k !== 'description');
    if (meaningful.length > 0) throw new CrdSchemaError(`${at}: untyped schema with ${meaningful.join(', ')}`);
    return withDescription({ 'x-kubernetes-preserve-unknown-fields': true }, node);
  }
  if (typeof type !== 'string' || !TYPES.has(type)) throw new CrdSchemaError(`${at}: type ${JSON.stringify(type)} is not one structural type`);
  const out: StructuralSchema = { type: type as NonNullable<StructuralSchema['type']> };
  withDescription(out, node);
  if (node['nullable'] === true) out.nullable = true;
  if (Array.isArray(node['enum'])) {
    out.enum = node['enum'].map((v: unknown) => {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
      throw new CrdSchemaError(`${at}: enum values must be scalars`);
    });
  }
  switch (type) {
    case 'object':
      convertObject(node, out, at);
      break;
    case 'array': {
      out.items = convertNode(node['items'] ?? {}, `${at}[]`);
      const min = numberAt(node, 'minItems', at);
      const max = numberAt(node, 'maxItems', at);
      if (min !== undefined && min > 0) out.minItems = min;
      if (max !== undefined) out.maxItems = max;
      break;
    }
    case 'string': {
      const pattern = node['pattern'];
      if (typeof pattern === 'string') out.pattern = pattern;
      const format = node['format'];
      if (typeof format === 'string') {
        const k8s = FORMATS.get(format);
        if (k8s === undefined) throw new CrdSchemaError(`${at}: format ${format} is not one Kubernetes validates`);
        out.format = k8s;
      }
      const min = numberAt(node, 'minLength', at);
      const max = numberAt(node, 'maxLength', at);
      if (min !== undefined && min > 0) out.minLength = min;
      if (max !== undefined) out.maxLength = max;
      break;
    }
    case 'integer':
    case 'number': {
      const min = numberAt(node, 'minimum', at);
      const max = numberAt(node, 'maximum', at);
      if (min !== undefined) out.minimum = min;
      if (max !== undefined) out.maximum = max;
      break;
    }
  }
  return out;
}

function convertObject(node: Record<string, unknown>, out: StructuralSchema, at: string): void {
  const props = node['properties'];
  const extra = node['additionalProperties'];
  if (isRecord(props) && Object.keys(props).length > 0) {
    if (isRecord(extra)) throw new CrdSchemaError(`${at}: properties and additionalProperties together`);
    out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, convertNode(v, at === '' ? k : `${at}.${k}`)]));
    const required = node['required'];
    if (Array.isArray(required) && required.length > 0) out.required = required.filter((r): r is string => typeof r === 'string');
    return;
  }
  if (isRecord(extra)) {
    out.additionalProperties = convertNode(extra, `${at}{}`);
    return;
  }
  // `z.strictObject({})`: an object that must stay empty. Listed with no properties, Kubernetes
  // prunes every field, and strict field validation rejects them: the same contract.
  if (extra === false) {
    out.properties = {};
    return;
  }
  out['x-kubernetes-preserve-unknown-fields'] = true;
}

function withDescription(out: StructuralSchema, node: Record<string, unknown>): StructuralSchema {
  const d = node['description'];
  if (typeof d === 'string' && d !== '') out.description = d;
  return out;
}

/** The structural schema of the input `schema` accepts (`io: 'input'`: optional fields stay optional). */
export function toStructuralSchema(schema: z.ZodType): StructuralSchema {
  const json = z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
  return convertNode(json, '');
}
