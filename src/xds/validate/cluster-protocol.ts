import type { ClusterConfig } from '../config-types.ts';
import { HTTP_PROTOCOL_OPTIONS_KEY } from '../resources.ts';
import { TYPED_CONFIG } from '../type-urls.ts';
import { type Issues, isObj, join, onlyKeys, optObj } from './reader.ts';

/**
 * Reads a Cluster's `typed_extension_protocol_options` into `out.upstreamHttp2`. The only
 * extension accepted is `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` with an
 * `explicit_http_config`: `http2_protocol_options` (the transports speak HTTP/2 to the endpoints:
 * h2c to a plaintext app or upstream; `allow_connect` lets RFC 8441 extended CONNECT through) or
 * `http_protocol_options` (HTTP/1.1, the default, written out). Every other option, protocol
 * choice (auto, downstream-matching) or HTTP/2 setting is refused: the transports would not honour it.
 */
export function upstreamProtocol(r: Record<string, unknown>, out: ClusterConfig, issues: Issues): void {
  const p = 'typed_extension_protocol_options';
  const opts = optObj(r, p, '', issues);
  if (!opts) return;
  onlyKeys(opts, [HTTP_PROTOCOL_OPTIONS_KEY], p, issues);
  const v = opts[HTTP_PROTOCOL_OPTIONS_KEY];
  if (v === undefined) return;
  const vp = join(p, `"${HTTP_PROTOCOL_OPTIONS_KEY}"`);
  if (!isObj(v)) {
    issues.add(vp, 'not an object');
    return;
  }
  if (v['@type'] !== TYPED_CONFIG.httpProtocolOptions) issues.add(join(vp, '@type'), `expected ${TYPED_CONFIG.httpProtocolOptions}`);
  onlyKeys(v, ['explicit_http_config'], vp, issues);
  const explicit = optObj(v, 'explicit_http_config', vp, issues);
  if (!explicit) {
    issues.add(join(vp, 'explicit_http_config'), 'required (auto_config and use_downstream_protocol_config are not supported)');
    return;
  }
  const ep = join(vp, 'explicit_http_config');
  onlyKeys(explicit, ['http2_protocol_options', 'http_protocol_options'], ep, issues);
  const h1 = optObj(explicit, 'http_protocol_options', ep, issues);
  if (h1) onlyKeys(h1, [], join(ep, 'http_protocol_options'), issues);
  const h2 = optObj(explicit, 'http2_protocol_options', ep, issues);
  if (!h2) return;
  const hp = join(ep, 'http2_protocol_options');
  onlyKeys(h2, ['allow_connect'], hp, issues);
  const allowConnect = h2['allow_connect'];
  if (allowConnect !== undefined && typeof allowConnect !== 'boolean') issues.add(join(hp, 'allow_connect'), 'not a boolean');
  out.upstreamHttp2 = { allowConnect: allowConnect === true };
}
