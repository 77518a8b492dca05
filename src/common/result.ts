/**
 * The outcome of validating or converting foreign input. Expected failures are values, not throws:
 * `errors` lists every problem found, each naming the path of the offending field.
 */
export type Result<T, E = string[]> = { ok: true; value: T } | { ok: false; errors: E };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail<E = string[]>(errors: E): { ok: false; errors: E } {
  return { ok: false, errors };
}
