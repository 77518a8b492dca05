/**
 * Request path normalization before routing and authorization, with Istio's
 * `meshConfig.pathNormalization.normalization` options as Envoy applies them:
 * - NONE: the path as received;
 * - BASE (Istio's default): Envoy's `normalize_path`: percent-encoded unreserved characters
 *   (RFC 3986 ALPHA / DIGIT / `-` `.` `_` `~`) decoded, other escapes upper-cased, `\` read as `/`,
 *   dot segments removed (RFC 3986 §5.2.4; never above the root);
 * - MERGE_SLASHES: BASE, then runs of `/` merged;
 * - DECODE_AND_MERGE_SLASHES: `%2F` and `%5C` decoded first (Envoy's UNESCAPE_AND_FORWARD), then
 *   MERGE_SLASHES.
 * Outside NONE, a path with a fragment (`#`), or with a malformed escape, is refused (400), as
 * Envoy does. `;` parameters are part of a segment (`/..;p=1/` is not a dot segment), as in Envoy.
 * The query is left as is. Pure.
 */

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: string };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = /^[0-9A-Fa-f]{2}$/;

function decodeEscapes(path: string, slashes: boolean): string | undefined {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return undefined;
    const ch = String.fromCharCode(Number.parseInt(hex, 16));
    if (UNRESERVED.test(ch) || (slashes && (ch === '/' || ch === '\\'))) out += ch;
    else out += `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

function removeDotSegments(path: string): string {
  const segments = path.split('/').slice(1);
  const out: string[] = [];
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '.' || seg === '..') {
      if (seg === '..') out.pop();
      if (last) out.push('');
    } else out.push(seg);
  });
  return `/${out.join('/')}`;
}

export function normalizePath(raw: string, mode: PathNormalization): NormalizedPath {
  if (mode === 'NONE') return { ok: true, path: raw };
  if (raw.includes('#')) return { ok: false, reason: 'path contains a fragment' };
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q);
  // `*` (OPTIONS) and anything not origin-form is left to the router.
  if (!path.startsWith('/')) return { ok: true, path: raw };
  const decoded = decodeEscapes(path, mode === 'DECODE_AND_MERGE_SLASHES');
  if (decoded === undefined) return { ok: false, reason: 'path has a malformed percent-encoding' };
  let out = removeDotSegments(decoded.replaceAll('\\', '/'));
  if (mode !== 'BASE') out = out.replace(/\/{2,}/g, '/');
  return { ok: true, path: out + query };
}

/** Istio's default (`pathNormalization` unset): BASE. */
export const DEFAULT_PATH_NORMALIZATION: PathNormalization = 'BASE';
