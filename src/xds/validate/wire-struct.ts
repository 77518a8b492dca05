import type { ProtoStruct, ProtoValue } from '../struct.ts';
import { isObj } from './reader.ts';

const SPELLINGS = [
  ['null_value', 'nullValue'],
  ['number_value', 'numberValue'],
  ['string_value', 'stringValue'],
  ['bool_value', 'boolValue'],
  ['struct_value', 'structValue'],
  ['list_value', 'listValue'],
] as const;

/**
 * Rewrites a `google.protobuf.Struct` so that every `Value` carries its field under BOTH spellings
 * (`string_value` and `stringValue`, ...), recursively.
 *
 * Why: proto-loader resolves `google/protobuf/struct.proto` to protobufjs' bundled descriptor, whose
 * Value fields are camelCase even with `keepCase`. On encode, snake_case Value fields are dropped
 * silently; on decode they arrive camelCase. `ProtoStruct` (struct.ts) is snake_case. Passing a
 * struct through this function before encoding, and after decoding, makes both sides work whichever
 * spelling a reader expects. Unknown input becomes an empty struct.
 */
export function wireStruct(s: unknown): ProtoStruct {
  const fields: Record<string, ProtoValue> = {};
  if (isObj(s) && isObj(s['fields'])) {
    for (const [k, v] of Object.entries(s['fields'])) fields[k] = wireValue(v);
  }
  return { fields };
}

function wireValue(v: unknown): ProtoValue {
  const out: Record<string, unknown> = {};
  if (!isObj(v)) return out;
  for (const [snake, camel] of SPELLINGS) {
    let val = v[snake] ?? v[camel];
    if (val === undefined || val === null) continue;
    if (snake === 'struct_value') val = wireStruct(val);
    if (snake === 'list_value') {
      const values = isObj(val) && Array.isArray(val['values']) ? val['values'] : [];
      val = { values: values.map(wireValue) };
    }
    out[snake] = val;
    out[camel] = val;
  }
  return out as ProtoValue;
}
