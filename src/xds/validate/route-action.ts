import type { HeaderOpsConfig, MirrorPolicyConfig, RedirectConfig, RetryPolicyConfig, RewriteConfig } from '../config-types.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import {
  enumOf,
  type Issues,
  type Obj,
  isObj,
  join,
  list,
  onlyKeys,
  optDurationMs,
  optInt,
  optObj,
  optString,
  optWrappedBool,
  optWrappedInt,
  reqString,
  stringList,
} from './reader.ts';
import { fullMatchRegex } from './route-matchers.ts';

/**
 * Validators for the parts of a Route that act on a request: header edits, retries, mirrors,
 * rewrites, redirects and direct responses. Each returns the normalized config or records every
 * problem with its path; a field meshfed does not honour is an error, never dropped.
 */

/** `envoy.type.v3.FractionalPercent` as parts per million. */
export function fractionPerMillion(o: Obj, key: string, path: string, issues: Issues): number | undefined {
  const f = optObj(o, key, path, issues);
  if (!f) return undefined;
  const p = join(path, key);
  onlyKeys(f, ['numerator', 'denominator'], p, issues);
  const numerator = optInt(f, 'numerator', 0, 0xffffffff, p, issues) ?? 0;
  const denominator = enumOf(f, 'denominator', ['HUNDRED', 'TEN_THOUSAND', 'MILLION'], 'HUNDRED', p, issues);
  const scale = denominator === 'HUNDRED' ? 10_000 : denominator === 'TEN_THOUSAND' ? 100 : 1;
  return Math.min(1_000_000, numerator * scale);
}

const APPEND_ACTIONS = ['APPEND_IF_EXISTS_OR_ADD', 'OVERWRITE_IF_EXISTS_OR_ADD', 'ADD_IF_ABSENT', 'OVERWRITE_IF_EXISTS'] as const;

function headersToAdd(o: Obj, key: string, ops: HeaderOpsConfig, path: string, issues: Issues): void {
  list(o, key, path, issues).forEach((h, i) => {
    const hp = join(join(path, key), i);
    if (!isObj(h)) {
      issues.add(hp, 'not an object');
      return;
    }
    onlyKeys(h, ['header', 'append', 'append_action'], hp, issues);
    const header = optObj(h, 'header', hp, issues);
    if (!header) {
      issues.add(join(hp, 'header'), 'missing');
      return;
    }
    onlyKeys(header, ['key', 'value'], join(hp, 'header'), issues);
    const name = reqString(header, 'key', join(hp, 'header'), issues);
    const value = optString(header, 'value', join(hp, 'header'), issues) ?? '';
    const append = optWrappedBool(h, 'append', hp, issues);
    const action = enumOf(h, 'append_action', APPEND_ACTIONS, 'APPEND_IF_EXISTS_OR_ADD', hp, issues);
    if (h['append'] !== undefined && h['append_action'] !== undefined) issues.add(hp, 'append and append_action are exclusive');
    if (action === 'ADD_IF_ABSENT' || action === 'OVERWRITE_IF_EXISTS') issues.add(join(hp, 'append_action'), `${action} is not supported`);
    if (name === undefined) return;
    // Envoy: `append` defaults to true; append_action's default is APPEND_IF_EXISTS_OR_ADD.
    const overwrite = h['append'] !== undefined ? append === false : action === 'OVERWRITE_IF_EXISTS_OR_ADD';
    (overwrite ? ops.set : ops.add).push([name.toLowerCase(), value]);
  });
}

/** `<prefix>_headers_to_add` and `<prefix>_headers_to_remove`; undefined when neither is set. */
export function headerOps(o: Obj, prefix: 'request' | 'response', path: string, issues: Issues): HeaderOpsConfig | undefined {
  const ops: HeaderOpsConfig = { set: [], add: [], remove: [] };
  headersToAdd(o, `${prefix}_headers_to_add`, ops, path, issues);
  ops.remove = stringList(o, `${prefix}_headers_to_remove`, path, issues).map((h) => h.toLowerCase());
  for (const [name] of [...ops.set, ...ops.add]) {
    if (name.startsWith(':') || name === 'host') issues.add(join(path, `${prefix}_headers_to_add`), `cannot edit ${name}`);
  }
  return ops.set.length + ops.add.length + ops.remove.length > 0 ? ops : undefined;
}

/** Conditions meshfed's router evaluates (Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on`). */
export const RETRY_ON = new Set([
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);


/** `retry_priority`: only `envoy.retry_priorities.previous_priorities`; returns its update_frequency. */
function retryPriority(r: Obj, path: string, issues: Issues): number | undefined {
  const rp = optObj(r, 'retry_priority', path, issues);
  if (!rp) return undefined;
  const p = join(path, 'retry_priority');
  onlyKeys(rp, ['name', 'typed_config'], p, issues);
  const tc = optObj(rp, 'typed_config', p, issues);
  if (!tc || tc['@type'] !== TYPED_CONFIG.previousPriorities) {
    issues.add(join(p, 'typed_config'), `unsupported retry priority ${JSON.stringify(tc?.['@type'] ?? rp['name'])}`);
    return undefined;
  }
  const tp = join(p, 'typed_config');
  onlyKeys(tc, ['@type', 'update_frequency'], tp, issues);
  const f = optInt(tc, 'update_frequency', 1, 1000, tp, issues);
  if (f === undefined) issues.add(join(tp, 'update_frequency'), 'must be greater than 0');
  return f;
}

export function retryPolicy(action: Obj, path: string, issues: Issues): RetryPolicyConfig | undefined {
  const r = optObj(action, 'retry_policy', path, issues);
  if (!r) return undefined;
  const p = join(path, 'retry_policy');
  onlyKeys(r, ['retry_on', 'num_retries', 'per_try_timeout', 'retriable_status_codes', 'retry_host_predicate', 'retry_priority', 'host_selection_retry_max_attempts'], p, issues);
  const retryOn = new Set<string>();
  for (const c of (optString(r, 'retry_on', p, issues) ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    if (RETRY_ON.has(c)) retryOn.add(c);
    else issues.add(join(p, 'retry_on'), `unsupported retry condition ${JSON.stringify(c)}`);
  }
  const codes: number[] = [];
  list(r, 'retriable_status_codes', p, issues).forEach((c, i) => {
    if (typeof c === 'number' && Number.isInteger(c) && c >= 100 && c <= 599) codes.push(c);
    else issues.add(join(join(p, 'retriable_status_codes'), i), 'must be an HTTP status');
  });
  let avoidPreviousHosts = false;
  list(r, 'retry_host_predicate', p, issues).forEach((pred, i) => {
    const pp = join(join(p, 'retry_host_predicate'), i);
    const type = isObj(pred) && isObj(pred['typed_config']) ? pred['typed_config']['@type'] : undefined;
    if (type === TYPED_CONFIG.previousHosts) avoidPreviousHosts = true;
    else issues.add(pp, `unsupported retry host predicate ${JSON.stringify(type ?? (isObj(pred) ? pred['name'] : pred))}`);
  });
  const out: RetryPolicyConfig = {
    retryOn,
    numRetries: optWrappedInt(r, 'num_retries', 0, 100, p, issues) ?? 1,
    retriableStatusCodes: codes,
    avoidPreviousHosts,
    hostSelectionRetryMaxAttempts: optInt(r, 'host_selection_retry_max_attempts', 1, 100, p, issues) ?? 1,
  };
  const perTry = optDurationMs(r, 'per_try_timeout', p, issues);
  if (perTry !== undefined && perTry > 0) out.perTryTimeoutMs = perTry;
  const frequency = retryPriority(r, p, issues);
  if (frequency !== undefined) out.previousPrioritiesUpdateFrequency = frequency;
  return out;
}

export function mirrorPolicies(action: Obj, path: string, issues: Issues): MirrorPolicyConfig[] {
  const out: MirrorPolicyConfig[] = [];
  list(action, 'request_mirror_policies', path, issues).forEach((m, i) => {
    const mp = join(join(path, 'request_mirror_policies'), i);
    if (!isObj(m)) {
      issues.add(mp, 'not an object');
      return;
    }
    onlyKeys(m, ['cluster', 'runtime_fraction'], mp, issues);
    const cluster = reqString(m, 'cluster', mp, issues);
    let perMillion = 1_000_000;
    const rf = optObj(m, 'runtime_fraction', mp, issues);
    if (rf) {
      const rp = join(mp, 'runtime_fraction');
      onlyKeys(rf, ['default_value'], rp, issues);
      perMillion = fractionPerMillion(rf, 'default_value', rp, issues) ?? 0;
    }
    if (cluster !== undefined) out.push({ cluster, perMillion });
  });
  return out;
}

export function rewrite(action: Obj, path: string, issues: Issues): RewriteConfig | undefined {
  const out: RewriteConfig = {};
  const prefix = optString(action, 'prefix_rewrite', path, issues);
  if (prefix !== undefined) out.prefix = prefix;
  const rr = optObj(action, 'regex_rewrite', path, issues);
  if (rr) {
    const rp = join(path, 'regex_rewrite');
    onlyKeys(rr, ['pattern', 'substitution'], rp, issues);
    const pattern = optObj(rr, 'pattern', rp, issues);
    const substitution = optString(rr, 'substitution', rp, issues) ?? '';
    if (!pattern) issues.add(join(rp, 'pattern'), 'missing');
    else {
      onlyKeys(pattern, ['regex', 'google_re2'], join(rp, 'pattern'), issues);
      const text = reqString(pattern, 'regex', join(rp, 'pattern'), issues);
      const re = text === undefined ? undefined : fullMatchRegex(text, false, join(rp, 'pattern.regex'), issues);
      // Envoy substitutes every match of the pattern; it is not anchored.
      if (re && text !== undefined) out.regex = { pattern: new RegExp(text, 'gu'), substitution: substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1') };
    }
  }
  if (prefix !== undefined && rr) issues.add(path, 'prefix_rewrite and regex_rewrite are exclusive');
  const host = optString(action, 'host_rewrite_literal', path, issues);
  if (host !== undefined) out.host = host;
  return out.prefix !== undefined || out.regex || out.host !== undefined ? out : undefined;
}

const REDIRECT_CODES = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 } as const;

export function redirect(r: Obj, path: string, issues: Issues): RedirectConfig {
  onlyKeys(r, ['https_redirect', 'scheme_redirect', 'host_redirect', 'port_redirect', 'path_redirect', 'prefix_rewrite', 'response_code', 'strip_query'], path, issues);
  const code = enumOf(r, 'response_code', Object.keys(REDIRECT_CODES) as (keyof typeof REDIRECT_CODES)[], 'MOVED_PERMANENTLY', path, issues);
  const out: RedirectConfig = { responseCode: REDIRECT_CODES[code], stripQuery: r['strip_query'] === true };
  if (r['https_redirect'] === true) out.scheme = 'https';
  const scheme = optString(r, 'scheme_redirect', path, issues);
  if (scheme !== undefined) out.scheme = scheme.toLowerCase();
  const host = optString(r, 'host_redirect', path, issues);
  if (host !== undefined) out.host = host;
  const port = optInt(r, 'port_redirect', 1, 65535, path, issues);
  if (port !== undefined) out.port = port;
  const p = optString(r, 'path_redirect', path, issues);
  if (p !== undefined) out.path = p;
  const prefix = optString(r, 'prefix_rewrite', path, issues);
  if (prefix !== undefined) out.prefixRewrite = prefix;
  if (p !== undefined && prefix !== undefined) issues.add(path, 'path_redirect and prefix_rewrite are exclusive');
  return out;
}

export function directResponse(d: Obj, path: string, issues: Issues): { status: number; body?: string } {
  onlyKeys(d, ['status', 'body'], path, issues);
  const status = optInt(d, 'status', 200, 599, path, issues);
  if (status === undefined) issues.add(join(path, 'status'), 'missing');
  const out: { status: number; body?: string } = { status: status ?? 200 };
  const body = optObj(d, 'body', path, issues);
  if (body) {
    const bp = join(path, 'body');
    onlyKeys(body, ['inline_string'], bp, issues);
    const text = optString(body, 'inline_string', bp, issues);
    if (text !== undefined) out.body = text;
  }
  return out;
}
