import type { DownstreamTls, OriginationTls, UpstreamTls, UriSanMatcher } from '../config-types.ts';
import { stringMatcherAt } from './route-matchers.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optObj, optString, optWrappedBool, reqObj, reqString, stringList } from './reader.ts';

const COMMON_TLS_KEYS = [
  'tls_certificate_sds_secret_configs',
  'validation_context_sds_secret_config',
  'alpn_protocols',
];

/** An SDS secret reference: its name (the secret resolves to Citadel material). */
function sdsSecret(s: unknown, path: string, issues: Issues): void {
  if (!isObj(s) || typeof s['name'] !== 'string' || s['name'] === '') issues.add(join(path, 'name'), 'missing');
}

/**
 * The URI SAN matchers of mesh mTLS (`match_typed_subject_alt_names`): `san_type` URI with an
 * `exact` or `prefix` matcher. Other SAN types and matchers are refused with their path (a mesh
 * leaf carries its identity as a URI SAN only).
 */
function uriSanMatchers(o: Obj, path: string, issues: Issues): UriSanMatcher[] {
  const out: UriSanMatcher[] = [];
  list(o, 'match_typed_subject_alt_names', path, issues).forEach((m, i) => {
    const mp = join(join(path, 'match_typed_subject_alt_names'), i);
    if (!isObj(m)) {
      issues.add(mp, 'not an object');
      return;
    }
    onlyKeys(m, ['san_type', 'matcher'], mp, issues);
    if (m['san_type'] !== 'URI') issues.add(join(mp, 'san_type'), `${JSON.stringify(m['san_type'] ?? null)} is not supported for mesh mTLS (only URI)`);
    const matcher = reqObj(m, 'matcher', mp, issues);
    if (!matcher) return;
    const xp = join(mp, 'matcher');
    onlyKeys(matcher, ['exact', 'prefix'], xp, issues);
    const kinds = (['exact', 'prefix'] as const).filter((k) => matcher[k] !== undefined);
    if (kinds.length !== 1) {
      issues.add(xp, 'needs exactly one of exact, prefix');
      return;
    }
    const kind = kinds[0] as 'exact' | 'prefix';
    const value = reqString(matcher, kind, xp, issues);
    if (value !== undefined && m['san_type'] === 'URI') out.push({ kind, value });
  });
  return out;
}

/**
 * `combined_validation_context` of mesh mTLS (Istio's ISTIO_MUTUAL shape): the roots over SDS and
 * a `default_validation_context` holding only `match_typed_subject_alt_names`
 * (`match_subject_alt_names`, deprecated in Envoy, is refused with its path).
 */
function combinedValidation(common: Obj, path: string, issues: Issues): UriSanMatcher[] {
  const cv = optObj(common, 'combined_validation_context', path, issues);
  if (!cv) return [];
  const p = join(path, 'combined_validation_context');
  onlyKeys(cv, ['default_validation_context', 'validation_context_sds_secret_config'], p, issues);
  const sds = reqObj(cv, 'validation_context_sds_secret_config', p, issues);
  if (sds) sdsSecret(sds, join(p, 'validation_context_sds_secret_config'), issues);
  const dv = optObj(cv, 'default_validation_context', p, issues);
  if (!dv) return [];
  const dp = join(p, 'default_validation_context');
  onlyKeys(dv, ['match_typed_subject_alt_names', 'match_subject_alt_names'], dp, issues);
  if (dv['match_subject_alt_names'] !== undefined) issues.add(join(dp, 'match_subject_alt_names'), 'is not supported (use match_typed_subject_alt_names with san_type URI)');
  return uriSanMatchers(dv, dp, issues);
}

/**
 * `common_tls_context` of mesh mTLS: SDS secret references (names only; secrets resolve to
 * Citadel material), ALPN and, upstream only, the server SAN matchers of a
 * `combined_validation_context` (which takes the place of `validation_context_sds_secret_config`).
 */
function commonTls(ctx: Obj, path: string, issues: Issues, upstream = false): { alpn: string[]; serverSans: UriSanMatcher[] } {
  const common = reqObj(ctx, 'common_tls_context', path, issues);
  if (!common) return { alpn: [], serverSans: [] };
  const p = join(path, 'common_tls_context');
  // Upstream: the server's SPIFFE IDs; downstream: the accepted peer trust domains (peerTrustDomains).
  onlyKeys(common, [...COMMON_TLS_KEYS, 'combined_validation_context'], p, issues);
  list(common, 'tls_certificate_sds_secret_configs', p, issues).forEach((s, i) => {
    sdsSecret(s, join(join(p, 'tls_certificate_sds_secret_configs'), i), issues);
  });
  if (common['combined_validation_context'] !== undefined && common['validation_context_sds_secret_config'] !== undefined) {
    issues.add(join(p, 'combined_validation_context'), 'cannot be set with validation_context_sds_secret_config');
  }
  const serverSans = upstream ? combinedValidation(common, p, issues) : [];
  return { alpn: stringList(common, 'alpn_protocols', p, issues), serverSans };
}

/** A `transport_socket` that must be `envoy.transport_sockets.tls` with the given context type. */
function tlsTypedConfig(o: Obj, path: string, issues: Issues, type: string): { ctx: Obj; path: string } | undefined {
  const ts = optObj(o, 'transport_socket', path, issues);
  if (!ts) return undefined;
  const p = join(path, 'transport_socket');
  onlyKeys(ts, ['name', 'typed_config'], p, issues);
  const ctx = reqObj(ts, 'typed_config', p, issues);
  if (!ctx) return undefined;
  const cp = join(p, 'typed_config');
  if (ctx['@type'] !== type) {
    issues.add(cp, `unsupported transport socket ${JSON.stringify(ctx['@type'])}`);
    return undefined;
  }
  return { ctx, path: cp };
}

export function downstreamTls(chain: Obj, path: string, issues: Issues): DownstreamTls | undefined {
  const found = tlsTypedConfig(chain, path, issues, TYPED_CONFIG.downstreamTls);
  if (!found) return undefined;
  onlyKeys(found.ctx, ['common_tls_context', 'require_client_certificate'], found.path, issues);
  const { alpn } = commonTls(found.ctx, found.path, issues);
  const requireClientCertificate = optWrappedBool(found.ctx, 'require_client_certificate', found.path, issues) ?? false;
  const common = isObj(found.ctx['common_tls_context']) ? found.ctx['common_tls_context'] : undefined;
  const trustDomains = common ? peerTrustDomains(common, join(found.path, 'common_tls_context'), issues) : undefined;
  return { requireClientCertificate, alpn, ...(trustDomains !== undefined ? { trustDomains } : {}) };
}
const SPIFFE_PREFIX = /^spiffe:\/\/([a-z0-9.\-_]+)\/$/;

/**
 * `combined_validation_context` of a downstream (inbound) context: the trust bundle over SDS and
 * the accepted peer trust domains, one `URI` SAN matcher `{ prefix: "spiffe://<td>/" }` each. Any
 * other matcher, or another validation setting, is refused: the sidecar checks trust domains only.
 * Absent: undefined (peers of the proxy's own trust domain only). Exclusive with
 * `validation_context_sds_secret_config`.
 */
function peerTrustDomains(common: Obj, path: string, issues: Issues): string[] | undefined {
  const combined = optObj(common, 'combined_validation_context', path, issues);
  if (!combined) return undefined;
  const p = join(path, 'combined_validation_context');
  onlyKeys(combined, ['default_validation_context', 'validation_context_sds_secret_config'], p, issues);
  const sds = reqObj(combined, 'validation_context_sds_secret_config', p, issues);
  if (sds && (typeof sds['name'] !== 'string' || sds['name'] === '')) issues.add(join(join(p, 'validation_context_sds_secret_config'), 'name'), 'missing');
  const dvc = reqObj(combined, 'default_validation_context', p, issues);
  if (!dvc) return [];
  const dp = join(p, 'default_validation_context');
  onlyKeys(dvc, ['match_typed_subject_alt_names'], dp, issues);
  const out: string[] = [];
  const mp = join(dp, 'match_typed_subject_alt_names');
  list(dvc, 'match_typed_subject_alt_names', dp, issues).forEach((m, i) => {
    const ip = join(mp, i);
    if (!isObj(m)) {
      issues.add(ip, 'not an object');
      return;
    }
    onlyKeys(m, ['san_type', 'matcher'], ip, issues);
    if (m['san_type'] !== 'URI') issues.add(join(ip, 'san_type'), 'must be URI (peers are matched by SPIFFE trust domain)');
    const matcher = isObj(m['matcher']) ? m['matcher'] : undefined;
    const sm = matcher ? stringMatcherAt(matcher, join(ip, 'matcher'), issues) : undefined;
    const prefix = sm?.prefix;
    if (!sm || sm.ignoreCase || prefix === undefined) {
      issues.add(join(ip, 'matcher'), 'must be { prefix: "spiffe://<trust-domain>/" }');
      return;
    }
    const td = SPIFFE_PREFIX.exec(prefix)?.[1];
    if (td === undefined) issues.add(join(join(ip, 'matcher'), 'prefix'), `${JSON.stringify(prefix)} is not spiffe://<trust-domain>/`);
    else out.push(td);
  });
  if (out.length === 0) issues.add(mp, 'must name at least one trust domain');
  return out;
}

/** A `DataSource` that must name a file (inline bytes and environment variables are not honoured). */
function fileSource(o: Obj, key: string, path: string, issues: Issues): string | undefined {
  const ds = reqObj(o, key, path, issues);
  if (!ds) return undefined;
  const p = join(path, key);
  onlyKeys(ds, ['filename'], p, issues);
  return reqString(ds, 'filename', p, issues);
}

/**
 * `common_tls_context` of TLS origination: at most one `tls_certificates` entry (chain and key
 * files), a `validation_context` with `trusted_ca` (a file) and exact DNS / URI
 * `match_typed_subject_alt_names`, and ALPN http/1.1 only (origination speaks HTTP/1.1).
 */
function originationTls(common: Obj, path: string, issues: Issues): OriginationTls {
  const out: OriginationTls = { subjectAltNames: [] };
  const certs = list(common, 'tls_certificates', path, issues);
  if (certs.length > 1) issues.add(join(path, 'tls_certificates'), 'at most one certificate is supported');
  const cert = certs[0];
  if (cert !== undefined) {
    const cp = join(join(path, 'tls_certificates'), 0);
    if (!isObj(cert)) issues.add(cp, 'not an object');
    else {
      onlyKeys(cert, ['certificate_chain', 'private_key'], cp, issues);
      const certFile = fileSource(cert, 'certificate_chain', cp, issues);
      const keyFile = fileSource(cert, 'private_key', cp, issues);
      if (certFile !== undefined) out.certFile = certFile;
      if (keyFile !== undefined) out.keyFile = keyFile;
    }
  }
  const vc = optObj(common, 'validation_context', path, issues);
  if (vc) {
    const vp = join(path, 'validation_context');
    onlyKeys(vc, ['trusted_ca', 'match_typed_subject_alt_names'], vp, issues);
    if (vc['trusted_ca'] === undefined) issues.add(join(vp, 'trusted_ca'), 'missing (a validation context without roots is not supported)');
    else {
      const ca = fileSource(vc, 'trusted_ca', vp, issues);
      if (ca !== undefined) out.caFile = ca;
    }
    list(vc, 'match_typed_subject_alt_names', vp, issues).forEach((m, i) => {
      const mp = join(join(vp, 'match_typed_subject_alt_names'), i);
      if (!isObj(m)) {
        issues.add(mp, 'not an object');
        return;
      }
      onlyKeys(m, ['san_type', 'matcher'], mp, issues);
      const type = m['san_type'];
      if (type !== 'DNS' && type !== 'URI') issues.add(join(mp, 'san_type'), 'only DNS and URI are supported');
      const matcher = reqObj(m, 'matcher', mp, issues);
      if (!matcher) return;
      onlyKeys(matcher, ['exact'], join(mp, 'matcher'), issues);
      const value = reqString(matcher, 'exact', join(mp, 'matcher'), issues);
      if (value !== undefined && (type === 'DNS' || type === 'URI')) out.subjectAltNames.push({ type, value });
    });
  }
  return out;
}

/**
 * An UpstreamTlsContext: mesh mTLS when it names SDS secrets (see commonTls; the server's SPIFFE
 * IDs in a `combined_validation_context`), else TLS origination
 * (file certificates, see originationTls; no validation context: the server is not verified).
 * Mixing the two is refused.
 */
export function upstreamTls(cluster: Obj, path: string, issues: Issues): UpstreamTls | undefined {
  const found = tlsTypedConfig(cluster, path, issues, TYPED_CONFIG.upstreamTls);
  if (!found) return undefined;
  onlyKeys(found.ctx, ['common_tls_context', 'sni'], found.path, issues);
  const sni = optString(found.ctx, 'sni', found.path, issues) ?? '';
  const common = optObj(found.ctx, 'common_tls_context', found.path, issues);
  const cp = join(found.path, 'common_tls_context');
  const mesh =
    common !== undefined &&
    (common['tls_certificate_sds_secret_configs'] !== undefined ||
      common['validation_context_sds_secret_config'] !== undefined ||
      common['combined_validation_context'] !== undefined);
  if (!mesh) {
    if (!common) return { sni, alpn: [], origination: { subjectAltNames: [] } };
    onlyKeys(common, ['tls_certificates', 'validation_context', 'alpn_protocols'], cp, issues);
    const alpn = stringList(common, 'alpn_protocols', cp, issues);
    // HTTP/1.1, or h2 alone for a cluster with http2_protocol_options (checked with the cluster, cluster.ts).
    if (alpn.some((a) => a !== 'http/1.1' && a !== 'h2')) issues.add(join(cp, 'alpn_protocols'), 'TLS origination speaks h2 or http/1.1 only');
    else if (alpn.includes('h2') && alpn.length > 1) issues.add(join(cp, 'alpn_protocols'), 'h2 cannot be offered with http/1.1: the cluster speaks one protocol');
    return { sni, alpn, origination: originationTls(common, cp, issues) };
  }
  const { alpn, serverSans } = commonTls(found.ctx, found.path, issues, true);
  return serverSans.length > 0 ? { sni, alpn, serverSans } : { sni, alpn };
}
