/**
 * google.protobuf.Struct on the wire, and conversions to and from plain JSON values.
 *
 * proto-loader takes Struct from protobufjs's bundled struct.proto, whose Value fields are
 * camelCase (`stringValue`, …) even with keepCase: a snake_case `string_value` is dropped silently
 * on encode. So this module writes camelCase, and reads either spelling.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface ProtoValue {
  nullValue?: 'NULL_VALUE' | 0;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: ProtoStruct;
  listValue?: { values?: ProtoValue[] };
  kind?: string;
}

export interface ProtoStruct {
  fields?: Record<string, ProtoValue>;
}

export function toProtoValue(v: JsonValue): ProtoValue {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toProtoValue) } };
  return { structValue: toStruct(v) };
}

export function toStruct(obj: { [k: string]: JsonValue }): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = toProtoValue(v);
  return { fields };
}

export function fromProtoValue(v: ProtoValue | undefined): JsonValue {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const str = r['stringValue'] ?? r['string_value'];
  if (typeof str === 'string') return str;
  const num = r['numberValue'] ?? r['number_value'];
  if (typeof num === 'number') return num;
  const bool = r['boolValue'] ?? r['bool_value'];
  if (typeof bool === 'boolean') return bool;
  const st = r['structValue'] ?? r['struct_value'];
  if (typeof st === 'object' && st !== null) return fromStruct(st as ProtoStruct);
  const list = r['listValue'] ?? r['list_value'];
  if (typeof list === 'object' && list !== null) return ((list as { values?: ProtoValue[] }).values ?? []).map(fromProtoValue);
  return null;
}

/** A decoded Struct as plain JSON; anything that is not a Struct reads as `{}`. */
export function fromStruct(s: ProtoStruct | undefined): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  const fields: unknown = typeof s === 'object' && s !== null ? s.fields : undefined;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return out;
  for (const [k, v] of Object.entries(fields)) out[k] = fromProtoValue(v as ProtoValue);
  return out;
}
