import type { HeaderMatcherConfig, QueryParameterMatcherConfig, RouteMatchConfig, StringMatcherConfig } from '../config-types.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optObj, optString, optWrappedBool, reqString } from './reader.ts';

/**
 * Validators for RDS match conditions: `envoy.type.matcher.v3.StringMatcher`, HeaderMatcher,
 * QueryParameterMatcher and RouteMatch. Regexes are Envoy's `safe_regex` (RE2, full match); a
 * pattern JavaScript cannot compile the same way is NACKed with its path, never approximated.
 */

/** Compiles an RE2 pattern as a full-match JavaScript RegExp, or records why it cannot. */
export function fullMatchRegex(pattern: string, ignoreCase: boolean, path: string, issues: Issues): RegExp | undefined {
  // RE2 features JavaScript lacks or spells differently: possessive/atomic forms and \C, \Q..\E,
  // \z, (?P<name>) are refused instead of being read as something else.
  if (/\\[CQEz]|\(\?P<|\(\?[imsU-]*:|\(\?>/.test(pattern)) {
    issues.add(path, `RE2 syntax that JavaScript cannot match the same way: ${JSON.stringify(pattern)}`);
    return undefined;
  }
  try {
    return new RegExp(`^(?:${pattern})$`, ignoreCase ? 'iu' : 'u');
  } catch (e: unknown) {
    issues.add(path, `invalid regex ${JSON.stringify(pattern)}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

function regexMatcher(o: Obj, key: string, ignoreCase: boolean, path: string, issues: Issues): RegExp | undefined {
  const r = optObj(o, key, path, issues);
  if (!r) return undefined;
  const p = join(path, key);
  onlyKeys(r, ['regex', 'google_re2'], p, issues);
  const g = optObj(r, 'google_re2', p, issues);
  if (g) onlyKeys(g, [], join(p, 'google_re2'), issues);
  const pattern = reqString(r, 'regex', p, issues);
  return pattern === undefined ? undefined : fullMatchRegex(pattern, ignoreCase, join(p, 'regex'), issues);
}

const STRING_MATCH_KINDS = ['exact', 'prefix', 'suffix', 'contains', 'safe_regex'] as const;

/** A StringMatcher: exactly one of exact, prefix, suffix, contains, safe_regex; `ignore_case`. */
export function stringMatcherAt(sm: Obj, path: string, issues: Issues): StringMatcherConfig | undefined {
  onlyKeys(sm, [...STRING_MATCH_KINDS, 'ignore_case'], path, issues);
  const ignoreCase = sm['ignore_case'] === true;
  const set = STRING_MATCH_KINDS.filter((k) => sm[k] !== undefined && sm[k] !== null);
  if (set.length !== 1) {
    issues.add(path, `exactly one of ${STRING_MATCH_KINDS.join(', ')} is required`);
    return undefined;
  }
  const out: StringMatcherConfig = { ignoreCase };
  for (const k of ['exact', 'prefix', 'suffix', 'contains'] as const) {
    const v = optString(sm, k, path, issues);
    if (v !== undefined) out[k] = ignoreCase ? v.toLowerCase() : v;
  }
  if (set[0] === 'safe_regex') {
    if (ignoreCase) issues.add(join(path, 'ignore_case'), 'not supported with safe_regex (Envoy ignores it)');
    const re = regexMatcher(sm, 'safe_regex', false, path, issues);
    if (!re) return undefined;
    out.regex = re;
  }
  return out;
}

function stringMatcher(o: Obj, key: string, path: string, issues: Issues): StringMatcherConfig | undefined {
  const sm = optObj(o, key, path, issues);
  return sm ? stringMatcherAt(sm, join(path, key), issues) : undefined;
}

export function headerMatcher(h: unknown, path: string, issues: Issues): HeaderMatcherConfig | undefined {
  if (!isObj(h)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(h, ['name', 'string_match', 'present_match', 'invert_match'], path, issues);
  const name = reqString(h, 'name', path, issues);
  const match = stringMatcher(h, 'string_match', path, issues);
  const present = h['present_match'];
  if (present !== undefined && typeof present !== 'boolean') issues.add(join(path, 'present_match'), 'not a boolean');
  if (h['string_match'] === undefined && present === undefined) issues.add(path, 'one of string_match or present_match is required');
  if (h['string_match'] !== undefined && present !== undefined) issues.add(path, 'string_match and present_match are exclusive');
  if (name === undefined) return undefined;
  const out: HeaderMatcherConfig = { name: name.toLowerCase(), invert: h['invert_match'] === true };
  if (match) out.match = match;
  if (typeof present === 'boolean') out.present = present;
  return out;
}

function queryParameterMatcher(q: unknown, path: string, issues: Issues): QueryParameterMatcherConfig | undefined {
  if (!isObj(q)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(q, ['name', 'string_match', 'present_match'], path, issues);
  const name = reqString(q, 'name', path, issues);
  const match = stringMatcher(q, 'string_match', path, issues);
  const present = q['present_match'];
  if (present !== undefined && typeof present !== 'boolean') issues.add(join(path, 'present_match'), 'not a boolean');
  if (match === undefined && present === undefined && q['string_match'] === undefined) issues.add(path, 'one of string_match or present_match is required');
  if (name === undefined) return undefined;
  const out: QueryParameterMatcherConfig = { name };
  if (match) out.match = match;
  if (typeof present === 'boolean') out.present = present;
  return out;
}

/** A route's `match`: one of prefix, path, safe_regex; case_sensitive; headers; query_parameters. */
export function routeMatchAt(m: Obj, path: string, issues: Issues): RouteMatchConfig {
  onlyKeys(m, ['prefix', 'path', 'safe_regex', 'case_sensitive', 'headers', 'query_parameters'], path, issues);
  const caseSensitive = optWrappedBool(m, 'case_sensitive', path, issues) ?? true;
  const out: RouteMatchConfig = { caseSensitive, headers: [], queryParameters: [] };
  const prefix = optString(m, 'prefix', path, issues);
  const exact = optString(m, 'path', path, issues);
  const regex = regexMatcher(m, 'safe_regex', !caseSensitive, path, issues);
  const n = [prefix, exact, m['safe_regex']].filter((v) => v !== undefined && v !== null).length;
  if (n !== 1) issues.add(path, 'exactly one of prefix, path or safe_regex is required');
  if (prefix !== undefined) out.prefix = caseSensitive ? prefix : prefix.toLowerCase();
  if (exact !== undefined) out.path = caseSensitive ? exact : exact.toLowerCase();
  if (regex) out.regex = regex;
  list(m, 'headers', path, issues).forEach((h, i) => {
    const hm = headerMatcher(h, join(join(path, 'headers'), i), issues);
    if (hm) out.headers.push(hm);
  });
  list(m, 'query_parameters', path, issues).forEach((q, i) => {
    const qm = queryParameterMatcher(q, join(join(path, 'query_parameters'), i), issues);
    if (qm) out.queryParameters.push(qm);
  });
  return out;
}
