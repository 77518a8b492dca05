import type { JwtAuthnFilterConfig, JwtProviderConfig } from '../config-types.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optString, reqObj, reqString, stringList } from './reader.ts';

/**
 * Validator of the JWT filter's listener-level config
 * (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`). meshfed runs what istiod
 * generates and NACKs the rest with its path:
 * - providers with `issuer`, `audiences`, `local_jwks.inline_string` (a JSON Web Key Set),
 *   `from_headers` (`name`, `value_prefix`), `from_params`, `forward`, `forward_payload_header`,
 *   `payload_in_metadata` (must be the issuer, as istiod writes it), `claim_to_headers`;
 *   `remote_jwks` is refused (Pilot fetches and inlines key sets), as is every other field;
 * - exactly one rule, `match: { prefix: "/" }`, requiring a provider, or `requires_any` of
 *   providers and at most one `allow_missing`.
 * Neither `from_headers` nor `from_params`: Envoy's defaults, `Authorization: Bearer <token>` and
 * the `access_token` parameter.
 */

const PROVIDER_KEYS = [
  'issuer',
  'audiences',
  'local_jwks',
  'from_headers',
  'from_params',
  'forward',
  'forward_payload_header',
  'payload_in_metadata',
  'claim_to_headers',
];

function provider(name: string, p: Obj, path: string, issues: Issues): JwtProviderConfig {
  onlyKeys(p, PROVIDER_KEYS, path, issues);
  const issuer = reqString(p, 'issuer', path, issues) ?? '';
  const audiences = stringList(p, 'audiences', path, issues);
  let jwks: JwtProviderConfig['jwks'] = { keys: [] };
  const local = reqObj(p, 'local_jwks', path, issues);
  if (local) {
    const lp = join(path, 'local_jwks');
    onlyKeys(local, ['inline_string'], lp, issues);
    const text = reqString(local, 'inline_string', lp, issues);
    if (text !== undefined) {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        v = undefined;
      }
      const keys = isObj(v) ? v['keys'] : undefined;
      if (!Array.isArray(keys) || !keys.every(isObj)) issues.add(join(lp, 'inline_string'), 'not a JSON Web Key Set (an object with a keys array of objects)');
      else jwks = { keys };
    }
  }
  const fromHeaders: JwtProviderConfig['fromHeaders'] = [];
  list(p, 'from_headers', path, issues).forEach((h, i) => {
    const hp = join(join(path, 'from_headers'), i);
    if (!isObj(h)) {
      issues.add(hp, 'not an object');
      return;
    }
    onlyKeys(h, ['name', 'value_prefix'], hp, issues);
    const hn = reqString(h, 'name', hp, issues);
    if (hn !== undefined) fromHeaders.push({ name: hn.toLowerCase(), prefix: optString(h, 'value_prefix', hp, issues) ?? '' });
  });
  const fromParams = stringList(p, 'from_params', path, issues);
  const forward = p['forward'];
  if (forward !== undefined && typeof forward !== 'boolean') issues.add(join(path, 'forward'), 'not a boolean');
  const forwardPayloadHeader = optString(p, 'forward_payload_header', path, issues);
  const inMetadata = optString(p, 'payload_in_metadata', path, issues);
  if (inMetadata !== undefined && inMetadata !== issuer) issues.add(join(path, 'payload_in_metadata'), 'must be the issuer (the sidecar keeps the payload under it)');
  const claimToHeaders: JwtProviderConfig['claimToHeaders'] = [];
  list(p, 'claim_to_headers', path, issues).forEach((c, i) => {
    const cp = join(join(path, 'claim_to_headers'), i);
    if (!isObj(c)) {
      issues.add(cp, 'not an object');
      return;
    }
    onlyKeys(c, ['header_name', 'claim_name'], cp, issues);
    const header = reqString(c, 'header_name', cp, issues);
    const claim = reqString(c, 'claim_name', cp, issues);
    if (header !== undefined && claim !== undefined) claimToHeaders.push({ header: header.toLowerCase(), claim });
  });
  const defaults = fromHeaders.length === 0 && fromParams.length === 0;
  return {
    name,
    issuer,
    audiences,
    jwks,
    fromHeaders: defaults ? [{ name: 'authorization', prefix: 'Bearer ' }] : fromHeaders,
    fromParams: defaults ? ['access_token'] : fromParams,
    forward: forward === true,
    ...(forwardPayloadHeader !== undefined && forwardPayloadHeader !== '' ? { forwardPayloadHeader: forwardPayloadHeader.toLowerCase() } : {}),
    claimToHeaders,
  };
}

/** A `JwtRequirement` naming one provider; undefined (with an issue) otherwise. */
function providerName(r: unknown, path: string, issues: Issues): string | undefined {
  if (!isObj(r)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  const name = r['provider_name'];
  if (typeof name !== 'string' || name === '') {
    issues.add(path, 'must be { provider_name } (or allow_missing, last, inside requires_any)');
    return undefined;
  }
  onlyKeys(r, ['provider_name', 'requires_type'], path, issues);
  return name;
}

export function jwtAuthnFilterConfig(tc: Obj, path: string, issues: Issues): JwtAuthnFilterConfig {
  onlyKeys(tc, ['@type', 'providers', 'rules'], path, issues);
  const providers: JwtProviderConfig[] = [];
  const pm = reqObj(tc, 'providers', path, issues);
  if (pm) {
    for (const [name, p] of Object.entries(pm)) {
      const pp = join(join(path, 'providers'), name);
      if (!isObj(p)) issues.add(pp, 'not an object');
      else providers.push(provider(name, p, pp, issues));
    }
    if (providers.length === 0) issues.add(join(path, 'providers'), 'must name at least one provider');
  }
  const names = new Set(providers.map((p) => p.name));
  const rules = list(tc, 'rules', path, issues);
  const rp = join(join(path, 'rules'), 0);
  let allowMissing = false;
  const required: string[] = [];
  if (rules.length !== 1) issues.add(join(path, 'rules'), 'exactly one rule (match prefix "/") is supported');
  const rule = rules[0];
  if (isObj(rule)) {
    onlyKeys(rule, ['match', 'requires', 'requirement_type'], rp, issues);
    const match = reqObj(rule, 'match', rp, issues);
    if (match && (match['prefix'] !== '/' || Object.keys(match).some((k) => k !== 'prefix' && k !== 'path_specifier'))) {
      issues.add(join(rp, 'match'), 'only { prefix: "/" } is supported');
    }
    const req = reqObj(rule, 'requires', rp, issues);
    const qp = join(rp, 'requires');
    if (req && isObj(req['requires_any'])) {
      onlyKeys(req, ['requires_any', 'requires_type'], qp, issues);
      const ap = join(qp, 'requires_any');
      onlyKeys(req['requires_any'], ['requirements'], ap, issues);
      const reqs = list(req['requires_any'], 'requirements', ap, issues);
      reqs.forEach((r, i) => {
        const ip = join(join(ap, 'requirements'), i);
        if (isObj(r) && isObj(r['allow_missing'])) {
          if (i !== reqs.length - 1) issues.add(ip, 'allow_missing must be the last requirement');
          onlyKeys(r, ['allow_missing', 'requires_type'], ip, issues);
          allowMissing = true;
          return;
        }
        const n = providerName(r, ip, issues);
        if (n !== undefined) required.push(n);
      });
    } else if (req) {
      const n = providerName(req, qp, issues);
      if (n !== undefined) required.push(n);
    }
  } else if (rule !== undefined) issues.add(rp, 'not an object');
  for (const n of required) if (!names.has(n)) issues.add(join(rp, 'requires'), `unknown provider ${JSON.stringify(n)}`);
  if (providers.some((p) => !required.includes(p.name))) issues.add(join(rp, 'requires'), 'every provider must be required (a provider no rule uses would be ignored)');
  return { providers: providers.filter((p) => required.includes(p.name)), allowMissing };
}
