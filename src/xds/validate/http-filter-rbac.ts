import { isIP } from 'node:net';
import type { CidrConfig, RbacFilterConfig, RbacPermission, RbacPolicyConfig, RbacPrincipal, RbacRulesConfig, StringMatcherConfig } from '../config-types.ts';
import { type Issues, type Obj, enumOf, isObj, join, list, onlyKeys, optInt, optObj, optString, optWrappedInt, reqString } from './reader.ts';
import { headerMatcher, stringMatcherAt } from './route-matchers.ts';

/**
 * Envoy's RBAC HTTP filter config (`envoy.extensions.filters.http.rbac.v3.RBAC`) as meshfed
 * enforces it: `rules` and `shadow_rules` with actions ALLOW, DENY and LOG, and the Permission and
 * Principal kinds Istio generates (`and_rules`/`or_rules`/`not_rule`/`any`, `header`, `url_path`,
 * `destination_ip`, `destination_port`, `requested_server_name`; `and_ids`/`or_ids`/`not_id`/
 * `any`, `authenticated`, `direct_remote_ip`, `remote_ip`, `source_ip`, `header`, `metadata`).
 * Every other field (CEL `condition`s, matcher trees, `track_per_rule_stats`...) is NACKed with its path.
 */

const RBAC_KEYS = ['rules', 'shadow_rules', 'rules_stat_prefix', 'shadow_rules_stat_prefix'];
const PERMISSION_KINDS = ['and_rules', 'or_rules', 'not_rule', 'any', 'header', 'url_path', 'destination_ip', 'destination_port', 'requested_server_name'];
const PRINCIPAL_KINDS = ['and_ids', 'or_ids', 'not_id', 'any', 'authenticated', 'direct_remote_ip', 'remote_ip', 'source_ip', 'header', 'metadata'];

/** Nesting beyond this is refused: evaluation recurses once per level. */
const MAX_DEPTH = 16;

function oneKind(o: Obj, kinds: readonly string[], path: string, issues: Issues): string | undefined {
  onlyKeys(o, kinds, path, issues);
  const set = kinds.filter((k) => o[k] !== undefined && o[k] !== null);
  if (set.length !== 1) {
    issues.add(path, `exactly one of ${kinds.join(', ')} is required`);
    return undefined;
  }
  return set[0];
}

function cidr(o: Obj, key: string, path: string, issues: Issues): CidrConfig | undefined {
  const c = optObj(o, key, path, issues);
  if (!c) return undefined;
  const p = join(path, key);
  onlyKeys(c, ['address_prefix', 'prefix_len'], p, issues);
  const address = reqString(c, 'address_prefix', p, issues);
  if (address === undefined) return undefined;
  const family = isIP(address);
  if (family === 0) {
    issues.add(join(p, 'address_prefix'), `${JSON.stringify(address)} is not an IP address`);
    return undefined;
  }
  const max = family === 4 ? 32 : 128;
  const prefixLen = optWrappedInt(c, 'prefix_len', 0, max, p, issues) ?? 0;
  return { address, prefixLen };
}

function matcher(o: Obj, key: string, path: string, issues: Issues): StringMatcherConfig | undefined {
  const m = optObj(o, key, path, issues);
  return m ? stringMatcherAt(m, join(path, key), issues) : undefined;
}

function permission(v: unknown, path: string, depth: number, issues: Issues): RbacPermission | undefined {
  if (!isObj(v)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  if (depth > MAX_DEPTH) {
    issues.add(path, `nested deeper than ${MAX_DEPTH}`);
    return undefined;
  }
  const kind = oneKind(v, PERMISSION_KINDS, path, issues);
  const p = kind !== undefined ? join(path, kind) : path;
  switch (kind) {
    case 'and_rules':
    case 'or_rules': {
      const set = optObj(v, kind, path, issues);
      if (!set) return undefined;
      onlyKeys(set, ['rules'], p, issues);
      const rules = list(set, 'rules', p, issues).map((r, i) => permission(r, join(join(p, 'rules'), i), depth + 1, issues));
      return rules.every((r) => r !== undefined) ? { kind: kind === 'and_rules' ? 'and' : 'or', rules } : undefined;
    }
    case 'not_rule': {
      const rule = permission(v[kind], p, depth + 1, issues);
      return rule ? { kind: 'not', rule } : undefined;
    }
    case 'any':
      if (v[kind] !== true) issues.add(p, 'must be true');
      return { kind: 'any' };
    case 'header': {
      const header = headerMatcher(v[kind], p, issues);
      return header ? { kind: 'header', header } : undefined;
    }
    case 'url_path': {
      const up = optObj(v, kind, path, issues);
      if (!up) return undefined;
      onlyKeys(up, ['path'], p, issues);
      const match = matcher(up, 'path', p, issues);
      if (!match && up['path'] === undefined) issues.add(join(p, 'path'), 'missing');
      return match ? { kind: 'urlPath', match } : undefined;
    }
    case 'destination_ip': {
      const c = cidr(v, kind, path, issues);
      return c ? { kind: 'destinationIp', cidr: c } : undefined;
    }
    case 'destination_port': {
      const port = optInt(v, kind, 0, 65535, path, issues);
      return port !== undefined ? { kind: 'destinationPort', port } : undefined;
    }
    case 'requested_server_name': {
      const match = matcher(v, kind, path, issues);
      return match ? { kind: 'requestedServerName', match } : undefined;
    }
    default:
      return undefined;
  }
}

/** `metadata`: Istio's `istio_authn` facts (`request.auth.*`), a string or a list holding one. */
function metadataPrincipal(v: unknown, p: string, issues: Issues): RbacPrincipal | undefined {
  if (!isObj(v)) {
    issues.add(p, 'not an object');
    return undefined;
  }
  onlyKeys(v, ['filter', 'path', 'value'], p, issues);
  const filter = reqString(v, 'filter', p, issues);
  const keys: string[] = [];
  list(v, 'path', p, issues).forEach((seg, i) => {
    const sp = join(join(p, 'path'), i);
    if (!isObj(seg)) {
      issues.add(sp, 'not an object');
      return;
    }
    onlyKeys(seg, ['key'], sp, issues);
    const key = reqString(seg, 'key', sp, issues);
    if (key !== undefined) keys.push(key);
  });
  if (keys.length === 0) issues.add(join(p, 'path'), 'must name at least one key');
  const value = optObj(v, 'value', p, issues);
  if (!value) {
    issues.add(join(p, 'value'), 'missing');
    return undefined;
  }
  const vp = join(p, 'value');
  onlyKeys(value, ['string_match', 'list_match'], vp, issues);
  let match: StringMatcherConfig | undefined;
  if (value['string_match'] !== undefined) match = matcher(value, 'string_match', vp, issues);
  else {
    const lm = optObj(value, 'list_match', vp, issues);
    const lp = join(vp, 'list_match');
    const oneOf = lm ? optObj(lm, 'one_of', lp, issues) : undefined;
    if (lm) onlyKeys(lm, ['one_of'], lp, issues);
    if (oneOf) {
      onlyKeys(oneOf, ['string_match'], join(lp, 'one_of'), issues);
      match = matcher(oneOf, 'string_match', join(lp, 'one_of'), issues);
    }
    if (!match) issues.add(vp, 'one of string_match or list_match.one_of.string_match is required');
  }
  return filter !== undefined && match ? { kind: 'metadata', filter, path: keys, match } : undefined;
}

function principal(v: unknown, path: string, depth: number, issues: Issues): RbacPrincipal | undefined {
  if (!isObj(v)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  if (depth > MAX_DEPTH) {
    issues.add(path, `nested deeper than ${MAX_DEPTH}`);
    return undefined;
  }
  const kind = oneKind(v, PRINCIPAL_KINDS, path, issues);
  const p = kind !== undefined ? join(path, kind) : path;
  switch (kind) {
    case 'and_ids':
    case 'or_ids': {
      const set = optObj(v, kind, path, issues);
      if (!set) return undefined;
      onlyKeys(set, ['ids'], p, issues);
      const ids = list(set, 'ids', p, issues).map((r, i) => principal(r, join(join(p, 'ids'), i), depth + 1, issues));
      return ids.every((r) => r !== undefined) ? { kind: kind === 'and_ids' ? 'and' : 'or', ids } : undefined;
    }
    case 'not_id': {
      const id = principal(v[kind], p, depth + 1, issues);
      return id ? { kind: 'not', id } : undefined;
    }
    case 'any':
      if (v[kind] !== true) issues.add(p, 'must be true');
      return { kind: 'any' };
    case 'authenticated': {
      const a = optObj(v, kind, path, issues);
      if (!a) return undefined;
      onlyKeys(a, ['principal_name'], p, issues);
      const match = matcher(a, 'principal_name', p, issues);
      return match ? { kind: 'authenticated', match } : { kind: 'authenticated' };
    }
    case 'direct_remote_ip':
    case 'remote_ip':
    case 'source_ip': {
      const c = cidr(v, kind, path, issues);
      const k = kind === 'direct_remote_ip' ? 'directRemoteIp' : kind === 'remote_ip' ? 'remoteIp' : 'sourceIp';
      return c ? { kind: k, cidr: c } : undefined;
    }
    case 'header': {
      const header = headerMatcher(v[kind], p, issues);
      return header ? { kind: 'header', header } : undefined;
    }
    case 'metadata':
      return metadataPrincipal(v[kind], p, issues);
    default:
      return undefined;
  }
}

function policy(name: string, v: unknown, path: string, issues: Issues): RbacPolicyConfig | undefined {
  if (!isObj(v)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(v, ['permissions', 'principals'], path, issues);
  const permissions = list(v, 'permissions', path, issues).map((x, i) => permission(x, join(join(path, 'permissions'), i), 0, issues));
  const principals = list(v, 'principals', path, issues).map((x, i) => principal(x, join(join(path, 'principals'), i), 0, issues));
  if (permissions.length === 0) issues.add(join(path, 'permissions'), 'at least one permission is required');
  if (principals.length === 0) issues.add(join(path, 'principals'), 'at least one principal is required');
  if (!permissions.every((x) => x !== undefined) || !principals.every((x) => x !== undefined)) return undefined;
  return { name, permissions, principals };
}

/**
 * The network RBAC filter's typed_config (`envoy.extensions.filters.network.rbac.v3.RBAC`):
 * `stat_prefix` (required, as Envoy) and `rules`; matchers only a request has (headers, paths,
 * dynamic metadata) are NACKed, since a TCP connection carries none.
 */
export function networkRbacConfig(tc: Obj, path: string, issues: Issues): { statPrefix: string; rules: RbacRulesConfig } | undefined {
  onlyKeys(tc, ['@type', 'stat_prefix', 'rules'], path, issues);
  const statPrefix = reqString(tc, 'stat_prefix', path, issues);
  const r = rules(tc, 'rules', path, issues);
  if (!r) {
    issues.add(join(path, 'rules'), 'missing');
    return undefined;
  }
  const l7 = (kind: string): boolean => kind === 'header' || kind === 'urlPath' || kind === 'metadata';
  const walkPerm = (p: RbacPermission): boolean =>
    p.kind === 'and' || p.kind === 'or' ? p.rules.some(walkPerm) : p.kind === 'not' ? walkPerm(p.rule) : l7(p.kind);
  const walkPrin = (p: RbacPrincipal): boolean => (p.kind === 'and' || p.kind === 'or' ? p.ids.some(walkPrin) : p.kind === 'not' ? walkPrin(p.id) : l7(p.kind));
  for (const pol of r.policies) {
    if (pol.permissions.some(walkPerm) || pol.principals.some(walkPrin)) {
      issues.add(join(join(join(path, 'rules'), 'policies'), pol.name), 'headers, paths and metadata are not supported on a network RBAC filter');
    }
  }
  return statPrefix === undefined ? undefined : { statPrefix, rules: r };
}

function rules(o: Obj, key: string, path: string, issues: Issues): RbacRulesConfig | undefined {
  const r = optObj(o, key, path, issues);
  if (!r) return undefined;
  const p = join(path, key);
  onlyKeys(r, ['action', 'policies'], p, issues);
  const action = enumOf(r, 'action', ['ALLOW', 'DENY', 'LOG'], 'ALLOW', p, issues);
  const policies: RbacPolicyConfig[] = [];
  const m = optObj(r, 'policies', p, issues);
  // Envoy evaluates policies in name order (a proto map has no order of its own).
  for (const name of Object.keys(m ?? {}).sort()) {
    const pol = policy(name, m?.[name], join(join(p, 'policies'), name), issues);
    if (pol) policies.push(pol);
  }
  return { action, policies };
}

/** The RBAC filter's typed_config at `path`. */
export function rbacFilterConfig(tc: Obj, path: string, issues: Issues): RbacFilterConfig {
  onlyKeys(tc, ['@type', ...RBAC_KEYS], path, issues);
  const out: RbacFilterConfig = {
    statPrefix: optString(tc, 'rules_stat_prefix', path, issues) ?? '',
    shadowRulesStatPrefix: optString(tc, 'shadow_rules_stat_prefix', path, issues) ?? '',
  };
  const enforced = rules(tc, 'rules', path, issues);
  const shadow = rules(tc, 'shadow_rules', path, issues);
  if (enforced) out.rules = enforced;
  if (shadow) out.shadowRules = shadow;
  return out;
}
