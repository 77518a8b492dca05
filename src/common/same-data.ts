/**
 * Equality of plain data, as two JSON documents are equal data: primitives, arrays (same length,
 * equal elements in order) and objects (the same own enumerable keys whose value is not
 * undefined, in any order, with equal values). Identity is tried first at every level, so
 * comparing two structures that share most of their objects costs little. Callers: the ADS client
 * (did a resource's config change?), Pilot's registry re-read and snapshot structural sharing.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && !Number.isFinite(a) && !Number.isFinite(b);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let count = 0;
  for (const k in ra) {
    if (!Object.hasOwn(ra, k) || ra[k] === undefined) continue;
    if (!Object.hasOwn(rb, k) || !sameData(ra[k], rb[k])) return false;
    count++;
  }
  for (const k in rb) if (Object.hasOwn(rb, k) && rb[k] !== undefined) count--;
  return count === 0;
}
