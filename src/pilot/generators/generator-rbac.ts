import type { AuthorizationCondition, AuthorizationOperation, AuthorizationPolicyConfig, AuthorizationRule, AuthorizationSource } from '../config/config-types.ts';
import type { HttpFilter, NetworkFilter } from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';

/**
 * Translates the AuthorizationPolicies of one workload into Envoy RBAC HTTP filters
 * (`envoy.extensions.filters.http.rbac.v3.RBAC`), as Istio's `authz/builder` does:
 * - one Envoy policy per rule, named `ns[<ns>]-policy[<name>]-rule[<i>]`; its permission is the
 *   AND of (any of `to`) and the `when` conditions on the request; its principal is the AND of
 *   (any of `from`) and the `when` conditions on the peer; `rules: [{}]` matches every request;
 *   a policy without rules contributes no Envoy policy (an ALLOW filter with none denies all);
 * - filters in Istio's order: AUDIT (action LOG, never denies), DENY, then ALLOW; no ALLOW policy
 *   means no ALLOW filter, so every request is allowed;
 * - values: `*` is presence, `abc*` a prefix, `*abc` a suffix, else exact; principals and
 *   namespaces match the peer's SPIFFE URI; hosts match `:authority` case-insensitively, with or
 *   without a port; `request.auth.*` read `istio_authn` dynamic metadata.
 * Pure: same policies in, same JSON out.
 */

type Json = Record<string, unknown>;

/** Dynamic metadata namespace the JWT filter writes request.auth.* facts into. */
export const AUTHN_METADATA = 'istio_authn';

function stringMatch(value: string, ignoreCase = false): Json {
  const ic = ignoreCase ? { ignore_case: true } : {};
  if (value === '*') return { safe_regex: { regex: '.+' } };
  if (value.startsWith('*')) return { suffix: value.slice(1), ...ic };
  if (value.endsWith('*')) return { prefix: value.slice(0, -1), ...ic };
  return { exact: value, ...ic };
}

const or = (key: 'rules' | 'ids', items: Json[]): Json => (key === 'rules' ? { or_rules: { rules: items } } : { or_ids: { ids: items } });
const and = (key: 'rules' | 'ids', items: Json[]): Json => (key === 'rules' ? { and_rules: { rules: items } } : { and_ids: { ids: items } });
const not = (key: 'rules' | 'ids', item: Json): Json => (key === 'rules' ? { not_rule: item } : { not_id: item });

function cidr(text: string): Json {
  const [address = '', prefix] = text.split('/');
  const len = prefix !== undefined ? Number(prefix) : address.includes(':') ? 128 : 32;
  return { address_prefix: address, prefix_len: { value: len } };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A principal under every trust domain of the mesh, as Istio's authz builder expands them: a value
 * whose trust domain is the mesh's or one of its aliases (meshConfig `trustDomainAliases`) matches
 * the same namespace and service account in each of them.
 */
function principalNames(value: string, trustDomains: readonly string[]): Json[] {
  const slash = value.indexOf('/');
  const td = slash > 0 ? value.slice(0, slash) : '';
  if (value.startsWith('*') || !trustDomains.includes(td) || trustDomains.length < 2) return [principalName(value)];
  const rest = value.slice(slash);
  return trustDomains.map((d) => principalName(`${d}${rest}`));
}

function principalName(value: string): Json {
  if (value === '*') return { authenticated: { principal_name: { safe_regex: { regex: '.+' } } } };
  const spiffe = (v: string): string => `spiffe://${v}`;
  if (value.startsWith('*')) return { authenticated: { principal_name: { suffix: value.slice(1) } } };
  if (value.endsWith('*')) return { authenticated: { principal_name: { prefix: spiffe(value.slice(0, -1)) } } };
  return { authenticated: { principal_name: { exact: spiffe(value) } } };
}

function namespaceId(value: string): Json {
  const ns = value === '*' ? '[^/]+' : value.startsWith('*') ? `[^/]*${escapeRegex(value.slice(1))}` : value.endsWith('*') ? `${escapeRegex(value.slice(0, -1))}[^/]*` : escapeRegex(value);
  return { authenticated: { principal_name: { safe_regex: { regex: `spiffe://[^/]+/ns/${ns}/.*` } } } };
}

function metadataId(keys: string[], value: string, list: boolean): Json {
  const match = { string_match: stringMatch(value) };
  return { metadata: { filter: AUTHN_METADATA, path: keys.map((key) => ({ key })), value: list ? { list_match: { one_of: match } } : match } };
}

const header = (name: string, value: string, ignoreCase = false): Json => ({ header: { name, string_match: stringMatch(value, ignoreCase) } });

function hostRules(host: string): Json[] {
  // `:authority` may carry a port; a host without one matches with any port.
  return host.endsWith('*') || host.includes(':') ? [header(':authority', host, true)] : [header(':authority', host, true), header(':authority', `${host}:*`, true)];
}

function pathRule(p: string): Json {
  return { url_path: { path: stringMatch(p) } };
}

/** A list field as "any of" (`not*`: none of), or undefined when unset. */
function anyOf(key: 'rules' | 'ids', values: readonly string[] | undefined, one: (v: string) => Json[], negate: boolean): Json | undefined {
  if (values === undefined) return undefined;
  const items = values.flatMap(one);
  const m = or(key, items);
  return negate ? not(key, m) : m;
}

function operationPermission(o: AuthorizationOperation): Json {
  const parts = [
    anyOf('rules', o.hosts, hostRules, false),
    anyOf('rules', o.notHosts, hostRules, true),
    anyOf('rules', o.ports, (p) => [{ destination_port: Number(p) }], false),
    anyOf('rules', o.notPorts, (p) => [{ destination_port: Number(p) }], true),
    anyOf('rules', o.methods, (m) => [header(':method', m)], false),
    anyOf('rules', o.notMethods, (m) => [header(':method', m)], true),
    anyOf('rules', o.paths, (p) => [pathRule(p)], false),
    anyOf('rules', o.notPaths, (p) => [pathRule(p)], true),
  ].filter((x): x is Json => x !== undefined);
  return parts.length === 0 ? { any: true } : and('rules', parts);
}

function sourcePrincipal(s: AuthorizationSource, trustDomains: readonly string[]): Json {
  const ip = (kind: string) => (v: string) => [{ [kind]: cidr(v) }];
  const rp = (v: string) => [metadataId(['request.auth.principal'], v, false)];
  const parts = [
    anyOf('ids', s.principals, (v) => principalNames(v, trustDomains), false),
    anyOf('ids', s.notPrincipals, (v) => principalNames(v, trustDomains), true),
    anyOf('ids', s.requestPrincipals, rp, false),
    anyOf('ids', s.notRequestPrincipals, rp, true),
    anyOf('ids', s.namespaces, (v) => [namespaceId(v)], false),
    anyOf('ids', s.notNamespaces, (v) => [namespaceId(v)], true),
    anyOf('ids', s.ipBlocks, ip('direct_remote_ip'), false),
    anyOf('ids', s.notIpBlocks, ip('direct_remote_ip'), true),
    anyOf('ids', s.remoteIpBlocks, ip('remote_ip'), false),
    anyOf('ids', s.notRemoteIpBlocks, ip('remote_ip'), true),
  ].filter((x): x is Json => x !== undefined);
  return parts.length === 0 ? { any: true } : and('ids', parts);
}

/** A `when` condition: on the request (permission side) or on the peer (principal side). */
function condition(c: AuthorizationCondition, trustDomains: readonly string[]): { side: 'rules' | 'ids'; match: (v: string) => Json[] } {
  const k = c.key;
  const headerName = /^request\.headers\[(.+)\]$/.exec(k)?.[1];
  if (headerName !== undefined) return { side: 'ids', match: (v) => [header(headerName.toLowerCase(), v)] };
  const claims = /^request\.auth\.claims((\[[^\]]+\])+)$/.exec(k)?.[1];
  if (claims !== undefined) {
    const keys = [...claims.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1] ?? '');
    return { side: 'ids', match: (v) => [metadataId(['request.auth.claims', ...keys], v, true)] };
  }
  switch (k) {
    case 'source.ip':
      return { side: 'ids', match: (v) => [{ direct_remote_ip: cidr(v) }] };
    case 'remote.ip':
      return { side: 'ids', match: (v) => [{ remote_ip: cidr(v) }] };
    case 'source.namespace':
      return { side: 'ids', match: (v) => [namespaceId(v)] };
    case 'source.principal':
      return { side: 'ids', match: (v) => principalNames(v, trustDomains) };
    case 'request.auth.principal':
    case 'request.auth.presenter':
      return { side: 'ids', match: (v) => [metadataId([k], v, false)] };
    case 'request.auth.audiences':
      return { side: 'ids', match: (v) => [metadataId([k], v, true)] };
    case 'destination.ip':
      return { side: 'rules', match: (v) => [{ destination_ip: cidr(v) }] };
    case 'destination.port':
      return { side: 'rules', match: (v) => [{ destination_port: Number(v) }] };
    default:
      // connection.sni (the schema admits no other key).
      return { side: 'rules', match: (v) => [{ requested_server_name: stringMatch(v) }] };
  }
}

function rulePolicy(rule: AuthorizationRule, trustDomains: readonly string[]): Json {
  const perms: Json[] = [];
  const ids: Json[] = [];
  if (rule.to !== undefined) perms.push(or('rules', rule.to.map((t) => operationPermission(t.operation))));
  if (rule.from !== undefined) ids.push(or('ids', rule.from.map((f) => sourcePrincipal(f.source, trustDomains))));
  for (const c of rule.when ?? []) {
    const { side, match } = condition(c, trustDomains);
    const target = side === 'rules' ? perms : ids;
    const values = anyOf(side, c.values, match, false);
    const notValues = anyOf(side, c.notValues, match, true);
    if (values) target.push(values);
    if (notValues) target.push(notValues);
  }
  return {
    permissions: [perms.length === 0 ? { any: true } : and('rules', perms)],
    principals: [ids.length === 0 ? { any: true } : and('ids', ids)],
  };
}

function policiesOf(policies: readonly AuthorizationPolicyConfig[], trustDomains: readonly string[]): Json {
  const out: Json = {};
  for (const p of policies) {
    (p.spec.rules ?? []).forEach((rule, i) => {
      out[`ns[${p.metadata.namespace}]-policy[${p.metadata.name}]-rule[${i}]`] = rulePolicy(rule, trustDomains);
    });
  }
  return out;
}

/**
 * The HCM filter entries (before the router) enforcing `policies`; none when there are no policies.
 * `trustDomains`: the mesh's trust domain and its aliases (principals match across them).
 */
export function rbacHttpFilters(policies: readonly AuthorizationPolicyConfig[], trustDomains: readonly string[] = []): HttpFilter[] {
  const out: HttpFilter[] = [];
  const of = (action: 'AUDIT' | 'DENY' | 'ALLOW') => policies.filter((p) => p.spec.action === action);
  const audit = of('AUDIT');
  const deny = of('DENY');
  const allow = of('ALLOW');
  const filter = (action: string, ps: readonly AuthorizationPolicyConfig[]): HttpFilter => ({
    name: 'envoy.filters.http.rbac',
    typed_config: { '@type': TYPED_CONFIG.rbac, rules: { action, policies: policiesOf(ps, trustDomains) } },
  });
  if (audit.length > 0) out.push(filter('LOG', audit));
  if (deny.length > 0) out.push(filter('DENY', deny));
  if (allow.length > 0) out.push(filter('ALLOW', allow));
  return out;
}

/** `when` keys only a request has (Istio's HTTP-only conditions). */
const HTTP_ONLY_KEY = /^(request\.headers\[|request\.auth\.)/;

/**
 * A rule as Istio applies it to a TCP port, where HTTP-only fields (`requestPrincipals`,
 * `hosts`, `methods`, `paths` and their `not*` forms; `when` on `request.headers[..]` and
 * `request.auth.*`) cannot be evaluated: an ALLOW rule using any is dropped (it matches nothing),
 * a DENY or AUDIT rule is kept without them (so it matches more: Istio's restrictive choice).
 */
export function tcpRule(rule: AuthorizationRule, action: 'ALLOW' | 'DENY' | 'AUDIT'): AuthorizationRule | undefined {
  const source = (s: AuthorizationSource): AuthorizationSource => {
    const { requestPrincipals: _r, notRequestPrincipals: _n, ...rest } = s;
    return rest;
  };
  const operation = (o: AuthorizationOperation): AuthorizationOperation => {
    const { hosts: _h, notHosts: _nh, methods: _m, notMethods: _nm, paths: _p, notPaths: _np, ...rest } = o;
    return rest;
  };
  const stripped: AuthorizationRule = {
    ...(rule.from !== undefined ? { from: rule.from.map((f) => ({ source: source(f.source) })) } : {}),
    ...(rule.to !== undefined ? { to: rule.to.map((t) => ({ operation: operation(t.operation) })) } : {}),
    ...(rule.when !== undefined ? { when: rule.when.filter((c) => !HTTP_ONLY_KEY.test(c.key)) } : {}),
  };
  if (JSON.stringify(stripped) === JSON.stringify(rule)) return rule;
  return action === 'ALLOW' ? undefined : stripped;
}

/**
 * The network RBAC filters (`envoy.extensions.filters.network.rbac.v3.RBAC`, stat prefix `tcp.`)
 * enforcing `policies` on an inbound TCP chain, in Istio's order (AUDIT as LOG, DENY, ALLOW), with
 * each rule made L4 by tcpRule; policy names as on HTTP chains. None without policies.
 */
export function rbacNetworkFilters(policies: readonly AuthorizationPolicyConfig[], trustDomains: readonly string[] = []): NetworkFilter[] {
  const out: NetworkFilter[] = [];
  for (const action of ['AUDIT', 'DENY', 'ALLOW'] as const) {
    const ps = policies.filter((p) => p.spec.action === action);
    if (ps.length === 0) continue;
    const tcpPolicies: Json = {};
    for (const p of ps) {
      (p.spec.rules ?? []).forEach((rule, i) => {
        const r = tcpRule(rule, action);
        if (r) tcpPolicies[`ns[${p.metadata.namespace}]-policy[${p.metadata.name}]-rule[${i}]`] = rulePolicy(r, trustDomains);
      });
    }
    out.push({
      name: 'envoy.filters.network.rbac',
      typed_config: { '@type': TYPED_CONFIG.networkRbac, stat_prefix: 'tcp.', rules: { action: action === 'AUDIT' ? 'LOG' : action, policies: tcpPolicies } },
    });
  }
  return out;
}
