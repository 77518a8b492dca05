import { BlockList, isIPv4 } from 'node:net';
import type { CidrConfig, HttpFilterConfig, RbacPermission, RbacPrincipal, RbacRulesConfig } from '../../xds/config-types.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { ConnectionFacts, FilterRequest, FilterStatSink, HttpFilter } from './http-filter-interface.ts';
import { CONTINUE, type FilterDecision } from './http-filter-interface.ts';
import type { HeaderMatcherConfig } from '../../xds/config-types.ts';
import { headerValue, type RequestView, stringMatches } from './route-table.ts';

/**
 * Envoy's RBAC HTTP filter (`envoy.extensions.filters.http.rbac.v3.RBAC`). Rules are compiled once
 * per config (CIDRs into BlockLists); per request, policies are tried in name order:
 * - ALLOW: a matching policy lets the request on, none matching denies it;
 * - DENY: a matching policy denies it;
 * - LOG: never denies; counts `logged` / `not_logged`.
 * A denial is a 403 `RBAC: access denied` with response flag `RBAC`. Stats: `rbac.<rules_stat_prefix>allowed`
 * / `denied`, and for shadow rules `rbac.<shadow_rules_stat_prefix>shadow_allowed` / `shadow_denied`
 * (evaluated, never enforced). Without a connection (outbound) there is no peer: principal and IP
 * rules do not match.
 */

export const RBAC_DENIED_BODY = 'RBAC: access denied';

const NO_CONNECTION: ConnectionFacts = Object.freeze({
  principal: undefined,
  namespace: undefined,
  sourceIp: '',
  remoteIp: '',
  destinationIp: '',
  destinationPort: 0,
  sni: '',
});

/** A CIDR as a matcher over textual addresses (IPv4-mapped IPv6 peers are seen as IPv4). */
export function cidrMatcher(c: CidrConfig): (ip: string) => boolean {
  const list = new BlockList();
  const v4 = isIPv4(c.address);
  list.addSubnet(c.address, c.prefixLen, v4 ? 'ipv4' : 'ipv6');
  return (ip) => {
    if (ip === '') return false;
    const plain = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
    const family = isIPv4(plain) ? 'ipv4' : 'ipv6';
    return (family === 'ipv4') === v4 && list.check(plain, family);
  };
}

/**
 * A header rule sees every value of the header (attack case 5): it matches when the value Envoy
 * sees (repeated headers joined with ',') matches, or any one comma-separated value does. So a
 * DENY on one value cannot be dodged by sending it beside another, or comma-joined.
 */
export function rbacHeaderMatches(h: HeaderMatcherConfig, req: RequestView): boolean {
  const v = headerValue(req, h.name);
  let matched: boolean;
  if (h.present !== undefined) matched = (v !== undefined) === h.present;
  else if (v === undefined || h.match === undefined) matched = false;
  else {
    const m = h.match;
    matched = stringMatches(m, v) || (v.includes(',') && v.split(',').some((x) => stringMatches(m, x.trim())));
  }
  return h.invert ? !matched : matched;
}

/** Request path without its query, as Envoy's `url_path` matches it. */
function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

/** Matchers built once per config: CIDR rules hold their BlockList. */
const cidrs = new WeakMap<CidrConfig, (ip: string) => boolean>();
function inCidr(c: CidrConfig, ip: string): boolean {
  let m = cidrs.get(c);
  if (!m) {
    m = cidrMatcher(c);
    cidrs.set(c, m);
  }
  return m(ip);
}

function precompile(rules: RbacRulesConfig): void {
  const walkPerm = (p: RbacPermission): void => {
    if (p.kind === 'and' || p.kind === 'or') p.rules.forEach(walkPerm);
    else if (p.kind === 'not') walkPerm(p.rule);
    else if (p.kind === 'destinationIp') inCidr(p.cidr, '');
  };
  const walkPrin = (p: RbacPrincipal): void => {
    if (p.kind === 'and' || p.kind === 'or') p.ids.forEach(walkPrin);
    else if (p.kind === 'not') walkPrin(p.id);
    else if (p.kind === 'directRemoteIp' || p.kind === 'remoteIp' || p.kind === 'sourceIp') inCidr(p.cidr, '');
  };
  for (const pol of rules.policies) {
    pol.permissions.forEach(walkPerm);
    pol.principals.forEach(walkPrin);
  }
}

export function permissionMatches(p: RbacPermission, req: FilterRequest): boolean {
  const conn = req.connection ?? NO_CONNECTION;
  switch (p.kind) {
    case 'any':
      return true;
    case 'and':
      return p.rules.every((r) => permissionMatches(r, req));
    case 'or':
      return p.rules.some((r) => permissionMatches(r, req));
    case 'not':
      return !permissionMatches(p.rule, req);
    case 'header':
      return rbacHeaderMatches(p.header, req.request);
    case 'urlPath':
      return stringMatches(p.match, pathOnly(req.request.path));
    case 'destinationIp':
      return inCidr(p.cidr, conn.destinationIp);
    case 'destinationPort':
      return conn.destinationPort === p.port;
    case 'requestedServerName':
      return stringMatches(p.match, conn.sni);
  }
}

function metadataValue(req: FilterRequest, filter: string, path: readonly string[]): unknown {
  let v: unknown = req.metadata?.get(filter);
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

export function principalMatches(p: RbacPrincipal, req: FilterRequest): boolean {
  const conn = req.connection ?? NO_CONNECTION;
  switch (p.kind) {
    case 'any':
      return true;
    case 'and':
      return p.ids.every((r) => principalMatches(r, req));
    case 'or':
      return p.ids.some((r) => principalMatches(r, req));
    case 'not':
      return !principalMatches(p.id, req);
    case 'authenticated':
      // Envoy matches the peer certificate's URI SAN, `spiffe://` included.
      return conn.principal !== undefined && (p.match === undefined || stringMatches(p.match, `spiffe://${conn.principal}`));
    case 'directRemoteIp':
    case 'sourceIp':
      return inCidr(p.cidr, conn.sourceIp);
    case 'remoteIp':
      return inCidr(p.cidr, conn.remoteIp);
    case 'header':
      return rbacHeaderMatches(p.header, req.request);
    case 'metadata': {
      const v = metadataValue(req, p.filter, p.path);
      if (typeof v === 'string') return stringMatches(p.match, v);
      return Array.isArray(v) && v.some((x) => typeof x === 'string' && stringMatches(p.match, x));
    }
  }
}

/** The name of the first policy of `rules` that matches the request, if any. */
export function matchedPolicy(rules: RbacRulesConfig, req: FilterRequest): string | undefined {
  for (const pol of rules.policies) {
    if (pol.permissions.some((x) => permissionMatches(x, req)) && pol.principals.some((x) => principalMatches(x, req))) return pol.name;
  }
  return undefined;
}

/** Whether `rules` let the request on (LOG rules always do). */
export function rulesAllow(rules: RbacRulesConfig, req: FilterRequest): boolean {
  const matched = matchedPolicy(rules, req) !== undefined;
  if (rules.action === 'ALLOW') return matched;
  if (rules.action === 'DENY') return !matched;
  return true;
}

export function createRbacFilter(config: HttpFilterConfig, stat: FilterStatSink): HttpFilter {
  const rbac = config.rbac ?? { statPrefix: '', shadowRulesStatPrefix: '' };
  const { rules, shadowRules } = rbac;
  if (rules) precompile(rules);
  if (shadowRules) precompile(shadowRules);
  const prefix = `rbac.${rbac.statPrefix}`;
  const shadowPrefix = `rbac.${rbac.shadowRulesStatPrefix}`;
  return {
    typeUrl: TYPED_CONFIG.rbac,
    everyRoute: true,
    onRequest(req): FilterDecision {
      if (shadowRules) {
        if (shadowRules.action === 'LOG') stat(`${shadowPrefix}${matchedPolicy(shadowRules, req) !== undefined ? 'shadow_logged' : 'shadow_not_logged'}`);
        else stat(`${shadowPrefix}${rulesAllow(shadowRules, req) ? 'shadow_allowed' : 'shadow_denied'}`);
      }
      if (!rules) return CONTINUE;
      if (rules.action === 'LOG') {
        stat(`${prefix}${matchedPolicy(rules, req) !== undefined ? 'logged' : 'not_logged'}`);
        return CONTINUE;
      }
      if (rulesAllow(rules, req)) {
        stat(`${prefix}allowed`);
        return CONTINUE;
      }
      stat(`${prefix}denied`);
      return { kind: 'reply', reply: { status: 403, flag: 'RBAC', body: RBAC_DENIED_BODY } };
    },
  };
}
