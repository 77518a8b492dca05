/**
 * The two patch formats the Kubernetes list/watch test server accepts: JSON merge patch (RFC 7386,
 * `application/merge-patch+json`) and JSON patch (RFC 6902, `application/json-patch+json`, the
 * default content type of `@kubernetes/client-node`'s patch methods). Pure functions over plain
 * JSON values; a bad patch returns an error message instead of throwing.
 */

export type PatchResult = { ok: true; value: unknown } | { ok: false; error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge key by key, `null` deletes, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? structuredClone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

function decodePointer(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

type Container = Record<string, unknown> | unknown[];

function parentOf(doc: unknown, tokens: string[]): Container | undefined {
  let cur: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(token)];
    else if (isRecord(cur)) cur = cur[token];
    else return undefined;
  }
  return Array.isArray(cur) || isRecord(cur) ? cur : undefined;
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean): number | undefined {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
  const i = Number(token);
  return i < arr.length || (forAdd && i === arr.length) ? i : undefined;
}

/** RFC 6902 with the operations add, remove, replace and test. */
export function applyJsonPatch(target: unknown, patch: unknown): PatchResult {
  if (!Array.isArray(patch)) return { ok: false, error: 'json patch must be an array of operations' };
  let doc: unknown = structuredClone(target);
  for (const [i, raw] of patch.entries()) {
    if (!isRecord(raw)) return { ok: false, error: `[${i}]: operation must be an object` };
    const { op, path, value } = raw;
    if (typeof path !== 'string') return { ok: false, error: `[${i}].path: must be a string` };
    const tokens = decodePointer(path);
    if (tokens === undefined) return { ok: false, error: `[${i}].path: invalid JSON pointer ${JSON.stringify(path)}` };
    if (op !== 'add' && op !== 'remove' && op !== 'replace' && op !== 'test') {
      return { ok: false, error: `[${i}].op: unsupported operation ${JSON.stringify(op)}` };
    }
    if (tokens.length === 0) {
      if (op === 'test') {
        if (JSON.stringify(doc) !== JSON.stringify(value)) return { ok: false, error: `[${i}]: test failed at ""` };
        continue;
      }
      if (op === 'remove') return { ok: false, error: `[${i}]: cannot remove the whole document` };
      doc = structuredClone(value);
      continue;
    }
    const parent = parentOf(doc, tokens);
    const last = tokens[tokens.length - 1] ?? '';
    if (parent === undefined) return { ok: false, error: `[${i}].path: ${path} does not exist` };
    if (Array.isArray(parent)) {
      const idx = arrayIndex(parent, last, op === 'add');
      if (idx === undefined) return { ok: false, error: `[${i}].path: ${path} is out of range` };
      if (op === 'add') parent.splice(idx, 0, structuredClone(value));
      else if (op === 'remove') parent.splice(idx, 1);
      else if (op === 'replace') parent[idx] = structuredClone(value);
      else if (JSON.stringify(parent[idx]) !== JSON.stringify(value)) return { ok: false, error: `[${i}]: test failed at ${path}` };
      continue;
    }
    const exists = Object.hasOwn(parent, last);
    if (op !== 'add' && !exists) return { ok: false, error: `[${i}].path: ${path} does not exist` };
    if (op === 'add' || op === 'replace') parent[last] = structuredClone(value);
    else if (op === 'remove') delete parent[last];
    else if (JSON.stringify(parent[last]) !== JSON.stringify(value)) return { ok: false, error: `[${i}]: test failed at ${path}` };
  }
  return { ok: true, value: doc };
}
