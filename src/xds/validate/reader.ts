import type { SocketAddr } from '../config-types.ts';

/**
 * Path-tracking readers over decoded xDS resources (proto-loader output with keepCase, enums as
 * strings, longs as strings, `defaults: false`, `oneofs: true`, Any expanded with `@type`).
 *
 * Every reader records problems as `<path>: <problem>` into an `Issues` collector and returns
 * `undefined` (or a neutral value) so validation can continue and report every problem at once.
 * Validators never throw on foreign input.
 */

export type Obj = Record<string, unknown>;

export class Issues {
  readonly errors: string[] = [];

  add(path: string, problem: string): void {
    this.errors.push(`${path}: ${problem}`);
  }

  get ok(): boolean {
    return this.errors.length === 0;
  }
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/**
 * Rejects every set field of `o` that is not in `allowed`. `@type` and oneof discriminator keys
 * (a key whose string value names another key present in `o`) are always allowed. This is how a
 * validator refuses features it does not implement instead of ignoring them.
 */
export function onlyKeys(o: Obj, allowed: readonly string[], path: string, issues: Issues): void {
  for (const [k, v] of Object.entries(o)) {
    if (k === '@type' || allowed.includes(k)) continue;
    if (typeof v === 'string' && v !== k && v in o) continue;
    if (v === undefined || v === null) continue;
    issues.add(join(path, k), 'unsupported field');
  }
}

/** A sub-message: returns it, or records `missing` / `not an object`. */
export function reqObj(o: Obj, key: string, path: string, issues: Issues): Obj | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    issues.add(join(path, key), 'missing');
    return undefined;
  }
  if (!isObj(v)) {
    issues.add(join(path, key), 'not an object');
    return undefined;
  }
  return v;
}

export function optObj(o: Obj, key: string, path: string, issues: Issues): Obj | undefined {
  if (o[key] === undefined || o[key] === null) return undefined;
  return reqObj(o, key, path, issues);
}

export function reqString(o: Obj, key: string, path: string, issues: Issues): string | undefined {
  const v = o[key];
  if (typeof v === 'string' && v !== '') return v;
  issues.add(join(path, key), v === undefined || v === '' ? 'missing' : 'not a string');
  return undefined;
}

export function optString(o: Obj, key: string, path: string, issues: Issues): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  issues.add(join(path, key), 'not a string');
  return undefined;
}

/** A repeated field; absent means empty. */
export function list(o: Obj, key: string, path: string, issues: Issues): unknown[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  issues.add(join(path, key), 'not a list');
  return [];
}

export function stringList(o: Obj, key: string, path: string, issues: Issues): string[] {
  const out: string[] = [];
  list(o, key, path, issues).forEach((v, i) => {
    if (typeof v === 'string') out.push(v);
    else issues.add(join(join(path, key), i), 'not a string');
  });
  return out;
}

/** Enum decoded as its name; `absent` is the proto3 default (value 0, never on the wire). */
export function enumOf<T extends string>(
  o: Obj,
  key: string,
  allowed: readonly T[],
  absent: T,
  path: string,
  issues: Issues,
): T {
  const v = o[key];
  if (v === undefined || v === null) return absent;
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
  issues.add(join(path, key), `unsupported value ${JSON.stringify(v)}`);
  return absent;
}

/** A uint32 or int64-as-string number field, as an integer within [min, max]. */
export function optInt(o: Obj, key: string, min: number, max: number, path: string, issues: Issues): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return n;
  issues.add(join(path, key), `must be an integer in [${min}, ${max}]`);
  return undefined;
}

/** A `google.protobuf.UInt32Value` wrapper (`{ value }`); an empty wrapper means 0. */
export function optWrappedInt(
  o: Obj,
  key: string,
  min: number,
  max: number,
  path: string,
  issues: Issues,
): number | undefined {
  const w = optObj(o, key, path, issues);
  if (!w) return undefined;
  if (w['value'] === undefined) {
    if (min > 0) issues.add(join(join(path, key), 'value'), `must be an integer in [${min}, ${max}]`);
    return min > 0 ? undefined : 0;
  }
  return optInt(w, 'value', min, max, join(path, key), issues);
}

export function optWrappedBool(o: Obj, key: string, path: string, issues: Issues): boolean | undefined {
  const w = optObj(o, key, path, issues);
  if (!w) return undefined;
  const v = w['value'];
  if (v === undefined) return false;
  if (typeof v === 'boolean') return v;
  issues.add(join(join(path, key), 'value'), 'not a boolean');
  return undefined;
}

/** A `google.protobuf.Duration` (`{ seconds: '10', nanos }`) in whole milliseconds. */
export function optDurationMs(o: Obj, key: string, path: string, issues: Issues): number | undefined {
  const d = optObj(o, key, path, issues);
  if (!d) return undefined;
  const p = join(path, key);
  const seconds = optInt(d, 'seconds', 0, 315_576_000_000, p, issues) ?? 0;
  const nanos = optInt(d, 'nanos', 0, 999_999_999, p, issues) ?? 0;
  return seconds * 1000 + Math.round(nanos / 1e6);
}

/**
 * `config_source` that must point at ADS (`{ ads: {} }`), xDS v3. `initial_fetch_timeout` is
 * accepted only as 0s: meshfed's receivers never give up waiting for a first response, which is
 * what a zero timeout means to Envoy (and what Istio generates).
 */
export function requireAds(o: Obj, key: string, path: string, issues: Issues): void {
  const src = reqObj(o, key, path, issues);
  if (!src) return;
  const p = join(path, key);
  if (!isObj(src['ads'])) issues.add(p, 'only { ads: {} } is supported');
  onlyKeys(src, ['ads', 'resource_api_version', 'initial_fetch_timeout'], p, issues);
  enumOf(src, 'resource_api_version', ['V3'], 'V3', p, issues);
  const timeout = optDurationMs(src, 'initial_fetch_timeout', p, issues);
  if (timeout !== undefined && timeout !== 0) issues.add(join(p, 'initial_fetch_timeout'), 'only 0s (wait for the first response indefinitely) is honoured');
}

/** `Address` holding a `socket_address` with a TCP port. */
export function socketAddress(o: Obj, key: string, path: string, issues: Issues): SocketAddr | undefined {
  const addr = reqObj(o, key, path, issues);
  if (!addr) return undefined;
  const p = join(path, key);
  onlyKeys(addr, ['socket_address'], p, issues);
  const sa = reqObj(addr, 'socket_address', p, issues);
  if (!sa) return undefined;
  const sp = join(p, 'socket_address');
  onlyKeys(sa, ['address', 'port_value', 'protocol'], sp, issues);
  if (sa['protocol'] !== undefined && sa['protocol'] !== 'TCP') issues.add(join(sp, 'protocol'), 'only TCP is supported');
  const host = reqString(sa, 'address', sp, issues);
  const port = optInt(sa, 'port_value', 0, 65535, sp, issues) ?? 0;
  if (host === undefined) return undefined;
  return { host, port };
}

/**
 * One `google.protobuf.Value` from a decoded Struct as a string or number. Accepts both spellings
 * of the Value fields: protobufjs' bundled struct.proto uses camelCase (`stringValue`), the .proto
 * file uses snake_case (`string_value`).
 */
export function structScalar(v: unknown): string | number | undefined {
  if (!isObj(v)) return undefined;
  const s = v['string_value'] ?? v['stringValue'];
  if (typeof s === 'string') return s;
  const n = v['number_value'] ?? v['numberValue'];
  if (typeof n === 'number') return n;
  return undefined;
}

/** The fields of `metadata.filter_metadata[ns]` as scalars (non-scalar values are skipped). */
export function filterMetadata(metadata: unknown, ns: string): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (!isObj(metadata) || !isObj(metadata['filter_metadata'])) return out;
  const struct = metadata['filter_metadata'][ns];
  if (!isObj(struct) || !isObj(struct['fields'])) return out;
  for (const [k, v] of Object.entries(struct['fields'])) {
    const s = structScalar(v);
    if (s !== undefined) out[k] = s;
  }
  return out;
}
