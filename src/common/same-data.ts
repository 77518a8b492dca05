/**
 * Equality of plain data as its JSON text would see it, without writing the text: primitives,
 * arrays and objects (own enumerable keys whose value is not undefined, in the same order, with
 * equal values). Identity is tried first at every level, so comparing two structures that share
 * most of their objects costs little. Callers: the ADS client (did a resource's config change?),
 * Pilot's registry re-read and snapshot structural sharing.
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
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i] || !sameData(ra[k], rb[k])) return false;
  }
  return true;
}
