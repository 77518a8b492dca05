import type { DownstreamTls, UpstreamTls } from '../config-types.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import { type Issues, type Obj, isObj, join, list, onlyKeys, optObj, optString, optWrappedBool, reqObj, stringList } from './reader.ts';

const COMMON_TLS_KEYS = [
  'tls_certificate_sds_secret_configs',
  'validation_context_sds_secret_config',
  'alpn_protocols',
  'tls_params',
];

/** `common_tls_context`: SDS secret references (names only; secrets resolve to Citadel material) and ALPN. */
function commonTls(ctx: Obj, path: string, issues: Issues): string[] {
  const common = reqObj(ctx, 'common_tls_context', path, issues);
  if (!common) return [];
  const p = join(path, 'common_tls_context');
  onlyKeys(common, COMMON_TLS_KEYS, p, issues);
  list(common, 'tls_certificate_sds_secret_configs', p, issues).forEach((s, i) => {
    const sp = join(join(p, 'tls_certificate_sds_secret_configs'), i);
    if (!isObj(s) || typeof s['name'] !== 'string' || s['name'] === '') issues.add(join(sp, 'name'), 'missing');
  });
  return stringList(common, 'alpn_protocols', p, issues);
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
  const alpn = commonTls(found.ctx, found.path, issues);
  const requireClientCertificate = optWrappedBool(found.ctx, 'require_client_certificate', found.path, issues) ?? false;
  return { requireClientCertificate, alpn };
}

export function upstreamTls(cluster: Obj, path: string, issues: Issues): UpstreamTls | undefined {
  const found = tlsTypedConfig(cluster, path, issues, TYPED_CONFIG.upstreamTls);
  if (!found) return undefined;
  onlyKeys(found.ctx, ['common_tls_context', 'sni'], found.path, issues);
  const alpn = commonTls(found.ctx, found.path, issues);
  return { sni: optString(found.ctx, 'sni', found.path, issues) ?? '', alpn };
}
