/**
 * Structural sharing between consecutive snapshots: a part of the new snapshot that equals the
 * previous snapshot's part under the same key is replaced by the previous object itself, so later
 * stages (diffSnapshots, generator memos, the push server's per-object encodings) recognise it as
 * unchanged by identity. Used by buildSnapshot only; the snapshot stays immutable.
 */

/**
 * Equality of the model's frozen plain data: primitives, arrays and plain objects (same keys in the
 * same order, equal values). Identity is tried first at every level.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !sameData(ra[k], rb[k])) return false;
  }
  return true;
}

/** `next`, or the previous map's value under `key` when it is equal data. */
export function shared<V>(previous: ReadonlyMap<string, V> | undefined, key: string, next: V): V {
  const prev = previous?.get(key);
  return prev !== undefined && sameData(prev, next) ? prev : next;
}
