import type { Result } from '../../common/result.ts';
import type { FilterChainConfig, HttpFilterChain, TcpFilterChain, HttpFilterConfig, ListenerConfig, RouteTable, TcpClusterWeight } from '../config-types.ts';
import { LISTENER } from '../naming.ts';
import { websocketUpgrade } from './upgrade-configs.ts';
import { httpFilterList } from './http-filters.ts';
import { TYPE_URL, TYPED_CONFIG } from '../type-urls.ts';
import {
  Issues,
  type Obj,
  enumOf,
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
  reqObj,
  reqString,
  requireAds,
  socketAddress,
  stringList,
} from './reader.ts';
import { routeTableAt } from './route-configuration.ts';
import { downstreamTls } from './tls-context.ts';
import { networkRbacConfig } from './http-filter-rbac.ts';

/** What an HTTP connection manager contributes to a filter chain. */
interface HcmConfig {
  routeConfigName?: string;
  routes?: RouteTable;
  setXfcc: boolean;
  httpFilters: HttpFilterConfig[];
  websocket?: boolean;
  allowConnect?: boolean;
  pathNormalization?: HttpFilterChain['pathNormalization'];
}

const HCM_KEYS = [
  'normalize_path',
  'merge_slashes',
  'path_with_escaped_slashes_action',
  'stat_prefix',
  'codec_type',
  'rds',
  'route_config',
  'http_filters',
  'forward_client_cert_details',
  'set_current_client_cert_details',
  'upgrade_configs',
  'http2_protocol_options',
];

/**
 * A decoded HttpConnectionManager. Routes come from RDS over ADS or inline; HTTP filters are the
 * ones http-filters.ts knows (fault, CORS), then the router, last. XFCC: SANITIZE (default) or SANITIZE_SET.
 */
function httpConnectionManager(hcm: Obj, path: string, issues: Issues): HcmConfig {
  onlyKeys(hcm, HCM_KEYS, path, issues);
  enumOf(hcm, 'codec_type', ['AUTO', 'HTTP1', 'HTTP2'], 'AUTO', path, issues);
  const out: HcmConfig = { setXfcc: false, httpFilters: [] };
  const rds = optObj(hcm, 'rds', path, issues);
  const inline = optObj(hcm, 'route_config', path, issues);
  if (rds && inline) issues.add(path, 'rds and route_config are exclusive');
  else if (rds) {
    const p = join(path, 'rds');
    onlyKeys(rds, ['route_config_name', 'config_source'], p, issues);
    const name = reqString(rds, 'route_config_name', p, issues);
    requireAds(rds, 'config_source', p, issues);
    if (name !== undefined) out.routeConfigName = name;
  } else if (inline) {
    out.routes = routeTableAt(inline, join(path, 'route_config'), issues);
    inlineRoutesForwardOnly(out.routes, join(path, 'route_config'), issues);
  } else if (hcm['rds'] === undefined && hcm['route_config'] === undefined) issues.add(join(path, 'rds'), 'missing');
  out.httpFilters = httpFilterList(hcm, path, issues);
  const xfcc = enumOf(hcm, 'forward_client_cert_details', ['SANITIZE', 'SANITIZE_SET'], 'SANITIZE', path, issues);
  out.setXfcc = xfcc === 'SANITIZE_SET';
  clientCertDetails(hcm, out.setXfcc, path, issues);
  const websocket = websocketUpgrade(hcm, path, issues);
  if (websocket !== undefined) out.websocket = websocket;
  const h2 = optObj(hcm, 'http2_protocol_options', path, issues);
  if (h2) {
    const hp = join(path, 'http2_protocol_options');
    onlyKeys(h2, ['allow_connect'], hp, issues);
    if (h2['allow_connect'] !== undefined && typeof h2['allow_connect'] !== 'boolean') issues.add(join(hp, 'allow_connect'), 'not a boolean');
    if (h2['allow_connect'] === true) out.allowConnect = true;
  }
  const normalization = pathNormalization(hcm, path, issues);
  if (normalization !== undefined) out.pathNormalization = normalization;
  return out;
}

/**
 * The HCM's path handling as one of Istio's meshConfig `pathNormalization` options (what the
 * sidecar implements, dataplane/http/path-normalize.ts): `normalize_path` false → NONE, true →
 * BASE, plus `merge_slashes` → MERGE_SLASHES, plus `path_with_escaped_slashes_action:
 * UNESCAPE_AND_FORWARD` → DECODE_AND_MERGE_SLASHES. Combinations no option has (merging slashes
 * without normalizing, unescaping without merging, rejecting or redirecting escaped slashes) are
 * NACKed. Undefined when none of the three fields is set.
 */
function pathNormalization(hcm: Obj, path: string, issues: Issues): HcmConfig['pathNormalization'] {
  if (hcm['normalize_path'] === undefined && hcm['merge_slashes'] === undefined && hcm['path_with_escaped_slashes_action'] === undefined) return undefined;
  const normalize = optWrappedBool(hcm, 'normalize_path', path, issues) ?? false;
  const merge = hcm['merge_slashes'];
  if (merge !== undefined && typeof merge !== 'boolean') issues.add(join(path, 'merge_slashes'), 'not a boolean');
  const action = enumOf(
    hcm,
    'path_with_escaped_slashes_action',
    ['IMPLEMENTATION_SPECIFIC_DEFAULT', 'KEEP_UNCHANGED', 'UNESCAPE_AND_FORWARD'],
    'KEEP_UNCHANGED',
    path,
    issues,
  );
  const decodeSlashes = action === 'UNESCAPE_AND_FORWARD';
  if (!normalize) {
    if (merge === true) issues.add(join(path, 'merge_slashes'), 'not supported without normalize_path (meshConfig has no such option)');
    if (decodeSlashes) issues.add(join(path, 'path_with_escaped_slashes_action'), 'UNESCAPE_AND_FORWARD is supported only with normalize_path and merge_slashes (DECODE_AND_MERGE_SLASHES)');
    return 'NONE';
  }
  if (decodeSlashes) {
    if (merge !== true) issues.add(join(path, 'path_with_escaped_slashes_action'), 'UNESCAPE_AND_FORWARD is supported only with merge_slashes (DECODE_AND_MERGE_SLASHES)');
    return 'DECODE_AND_MERGE_SLASHES';
  }
  return merge === true ? 'MERGE_SLASHES' : 'BASE';
}

/**
 * `set_current_client_cert_details`: the XFCC element meshfed sets holds By, Hash and URI, which is
 * Envoy's `{ uri: true }`. Any other shape would be ignored, so it is refused; without SANITIZE_SET
 * the field has no effect in Envoy either and must be absent.
 */
function clientCertDetails(hcm: Obj, setXfcc: boolean, path: string, issues: Issues): void {
  const d = optObj(hcm, 'set_current_client_cert_details', path, issues);
  if (!d) return;
  const p = join(path, 'set_current_client_cert_details');
  if (!setXfcc) {
    issues.add(p, 'only meaningful with forward_client_cert_details SANITIZE_SET');
    return;
  }
  onlyKeys(d, ['uri', 'subject', 'cert', 'chain', 'dns'], p, issues);
  if (d['uri'] !== true) issues.add(join(p, 'uri'), 'must be true: the XFCC element meshfed sets always carries URI');
  const subject = optWrappedBool(d, 'subject', p, issues) === true;
  for (const k of ['subject', 'cert', 'chain', 'dns']) if (k === 'subject' ? subject : d[k] === true) issues.add(join(p, k), 'not supported: meshfed sets By, Hash and URI only');
}

/**
 * Inline route tables serve inbound chains, whose listener forwards to the local app and honours
 * only matches, clusters, the timeout and direct responses (the 421 of a host that is not the
 * workload's); anything else on them is refused, not ignored.
 */
function inlineRoutesForwardOnly(table: RouteTable, path: string, issues: Issues): void {
  table.virtualHosts.forEach((vh, v) => {
    vh.routes.forEach((r, i) => {
      const p = `${path}.virtual_hosts[${v}].routes[${i}]`;
      const extras = [
        r.redirect && 'redirect', r.retry && 'route.retry_policy',
        r.mirrors.length > 0 && 'route.request_mirror_policies', r.rewrite && 'route rewrites',
        (r.requestHeaders || r.responseHeaders || r.clusters.some((c) => c.requestHeaders || c.responseHeaders)) && 'header edits',
        Object.values(r.perFilter).some((v) => v !== undefined) && 'typed_per_filter_config',
        r.hashPolicy && 'route.hash_policy',
      ].filter((x): x is string => typeof x === 'string');
      for (const x of extras) issues.add(p, `${x} is not supported on an inline (inbound) route table`);
    });
  });
}

/** What a tcp_proxy contributes to a filter chain. */
interface TcpProxyConfig {
  statPrefix: string;
  clusters: TcpClusterWeight[];
  weighted: boolean;
  idleTimeoutMs: number;
}

/** Envoy's tcp_proxy default `idle_timeout`. */
export const TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS = 3_600_000;

/**
 * A decoded `envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`: `stat_prefix` (required),
 * exactly one of `cluster` and `weighted_clusters` (weights at least 1, as Envoy validates), and
 * `idle_timeout`. Every other field (metadata_match, access_log, max_connect_attempts,
 * hash_policy, tunneling_config, …) is refused.
 */
function tcpProxy(tcp: Obj, path: string, issues: Issues): TcpProxyConfig | undefined {
  onlyKeys(tcp, ['stat_prefix', 'cluster', 'weighted_clusters', 'idle_timeout'], path, issues);
  const statPrefix = reqString(tcp, 'stat_prefix', path, issues) ?? '';
  const idleTimeoutMs = optDurationMs(tcp, 'idle_timeout', path, issues) ?? TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS;
  const cluster = optString(tcp, 'cluster', path, issues);
  const weightedObj = optObj(tcp, 'weighted_clusters', path, issues);
  if (cluster !== undefined && weightedObj) {
    issues.add(path, 'cluster and weighted_clusters are exclusive');
    return undefined;
  }
  if (cluster !== undefined) {
    if (cluster === '') issues.add(join(path, 'cluster'), 'empty');
    return { statPrefix, clusters: [{ name: cluster, weight: 1 }], weighted: false, idleTimeoutMs };
  }
  if (!weightedObj) {
    issues.add(join(path, 'cluster'), 'missing (or weighted_clusters)');
    return undefined;
  }
  const wp = join(path, 'weighted_clusters');
  onlyKeys(weightedObj, ['clusters'], wp, issues);
  const clusters: TcpClusterWeight[] = [];
  const entries = list(weightedObj, 'clusters', wp, issues);
  if (entries.length === 0) issues.add(join(wp, 'clusters'), 'empty');
  entries.forEach((e, i) => {
    const ep = join(join(wp, 'clusters'), i);
    if (!isObj(e)) {
      issues.add(ep, 'not an object');
      return;
    }
    onlyKeys(e, ['name', 'weight'], ep, issues);
    const name = reqString(e, 'name', ep, issues);
    const weight = optInt(e, 'weight', 1, 4_294_967_295, ep, issues);
    if (e['weight'] === undefined) issues.add(join(ep, 'weight'), 'must be at least 1');
    if (name !== undefined && weight !== undefined) clusters.push({ name, weight });
  });
  return { statPrefix, clusters, weighted: true, idleTimeoutMs };
}

type NetworkFilterConfig = { kind: 'http'; hcm: HcmConfig } | { kind: 'tcp'; tcp: TcpProxyConfig; rbac: NonNullable<TcpFilterChain['rbac']> };

/**
 * A chain's network filters: network RBAC filters (before a tcp_proxy only), then exactly one
 * terminal filter (HCM or tcp_proxy), last.
 */
function networkFilter(chain: Obj, path: string, issues: Issues): NetworkFilterConfig | undefined {
  const filters = list(chain, 'filters', path, issues);
  const rbac: NonNullable<TcpFilterChain['rbac']> = [];
  const isRbac = (f: unknown): f is Obj => isObj(f) && isObj(f['typed_config']) && f['typed_config']['@type'] === TYPED_CONFIG.networkRbac;
  const terminals = filters.filter((f) => !isRbac(f)).length;
  if (terminals !== 1) {
    issues.add(join(path, 'filters'), `exactly one network filter is supported (after any network RBAC filters), found ${terminals}`);
    if (filters.length === 0) return undefined;
  }
  filters.slice(0, -1).forEach((f, i) => {
    if (!isRbac(f)) return;
    const fp = join(join(path, 'filters'), i);
    onlyKeys(f, ['name', 'typed_config'], fp, issues);
    const r = networkRbacConfig(f['typed_config'] as Obj, join(fp, 'typed_config'), issues);
    if (r) rbac.push(r);
  });
  const last = filters.length - 1;
  const fp = join(join(path, 'filters'), last);
  const f = filters[last];
  if (!isObj(f)) {
    issues.add(fp, 'not an object');
    return undefined;
  }
  onlyKeys(f, ['name', 'typed_config'], fp, issues);
  const tc = reqObj(f, 'typed_config', fp, issues);
  if (!tc) return undefined;
  const tp = join(fp, 'typed_config');
  if (tc['@type'] === TYPED_CONFIG.httpConnectionManager) {
    if (rbac.length > 0) issues.add(join(path, 'filters'), 'network RBAC before an HTTP connection manager is not supported (use the HTTP RBAC filter)');
    return { kind: 'http', hcm: httpConnectionManager(tc, tp, issues) };
  }
  if (tc['@type'] === TYPED_CONFIG.tcpProxy) {
    const tcp = tcpProxy(tc, tp, issues);
    return tcp === undefined ? undefined : { kind: 'tcp', tcp, rbac };
  }
  issues.add(tp, `unsupported network filter ${JSON.stringify(tc['@type'] ?? f['name'])}`);
  return undefined;
}

function filterChain(c: unknown, index: number, path: string, issues: Issues): FilterChainConfig | undefined {
  if (!isObj(c)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(c, ['name', 'filter_chain_match', 'filters', 'transport_socket'], path, issues);
  const name = optString(c, 'name', path, issues) || `filter_chains[${index}]`;
  let serverNames: string[] = [];
  let destinationPort: number | undefined;
  let applicationProtocols: string[] = [];
  let transportProtocol: 'tls' | 'raw_buffer' | undefined;
  const match = optObj(c, 'filter_chain_match', path, issues);
  if (match) {
    const mp = join(path, 'filter_chain_match');
    onlyKeys(match, ['server_names', 'destination_port', 'transport_protocol', 'application_protocols'], mp, issues);
    serverNames = stringList(match, 'server_names', mp, issues).map((s) => s.toLowerCase());
    serverNames.forEach((n, i) => {
      if (!SERVER_NAME.test(n)) issues.add(join(join(mp, 'server_names'), i), `${JSON.stringify(n)} is neither a host name nor a wildcard *.suffix`);
    });
    applicationProtocols = stringList(match, 'application_protocols', mp, issues);
    destinationPort = optWrappedInt(match, 'destination_port', 1, 65535, mp, issues);
    const tp = optString(match, 'transport_protocol', mp, issues);
    if (tp !== undefined && tp !== 'tls' && tp !== 'raw_buffer') {
      issues.add(join(mp, 'transport_protocol'), `unsupported value ${JSON.stringify(tp)}`);
    } else {
      transportProtocol = tp;
    }
  }
  const tls = downstreamTls(c, path, issues);
  const nf = networkFilter(c, path, issues);
  if (!nf) return undefined;
  const tpPath = join(path, 'filter_chain_match.transport_protocol');
  if (transportProtocol === 'raw_buffer' && tls) issues.add(tpPath, 'raw_buffer (plaintext) cannot go with a TLS transport_socket');
  if (transportProtocol === 'tls' && !tls) issues.add(tpPath, 'tls needs a TLS transport_socket (the chain would not terminate it)');
  if (nf.kind === 'tcp') {
    return {
      kind: 'tcp',
      name,
      serverNames,
      applicationProtocols,
      ...(transportProtocol !== undefined ? { transportProtocol } : {}),
      ...nf.tcp,
      ...(nf.rbac.length > 0 ? { rbac: nf.rbac } : {}),
      ...(destinationPort !== undefined ? { destinationPort } : {}),
      ...(tls ? { tls } : {}),
    };
  }
  const out: HttpFilterChain = { kind: 'http', name, serverNames, setXfcc: nf.hcm.setXfcc, httpFilters: nf.hcm.httpFilters };
  if (applicationProtocols.length > 0) out.applicationProtocols = applicationProtocols;
  if (nf.hcm.websocket !== undefined) out.websocket = nf.hcm.websocket;
  if (nf.hcm.allowConnect) out.allowConnect = true;
  if (nf.hcm.pathNormalization !== undefined) out.pathNormalization = nf.hcm.pathNormalization;
  if (destinationPort !== undefined) out.destinationPort = destinationPort;
  if (transportProtocol !== undefined) out.transportProtocol = transportProtocol;
  if (nf.hcm.routeConfigName !== undefined) out.routeConfigName = nf.hcm.routeConfigName;
  if (nf.hcm.routes !== undefined) out.routes = nf.hcm.routes;
  if (tls) out.tls = tls;
  return out;
}

/** Envoy's `server_names`: an exact host name, or `*.` and a suffix (matched exact first, then the longest suffix). */
const SERVER_NAME = /^(\*\.)?[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*$/;

/**
 * `listener_filters`: only `envoy.filters.listener.tls_inspector`, with no options (JA3
 * fingerprints, initial read buffer size… are refused), at most once.
 */
function listenerFilters(l: Obj, issues: Issues): boolean {
  let tlsInspector = false;
  list(l, 'listener_filters', '', issues).forEach((f, i) => {
    const fp = join('listener_filters', i);
    const type = isObj(f) && isObj(f['typed_config']) ? f['typed_config']['@type'] : undefined;
    if (type !== TYPED_CONFIG.tlsInspector || !isObj(f)) {
      issues.add(fp, `unsupported listener filter ${JSON.stringify(type ?? (isObj(f) ? f['name'] : f))}`);
      return;
    }
    onlyKeys(f, ['name', 'typed_config'], fp, issues);
    const tc = f['typed_config'];
    if (isObj(tc)) onlyKeys(tc, ['@type'], join(fp, 'typed_config'), issues);
    if (tlsInspector) issues.add(fp, 'tls_inspector listed twice');
    tlsInspector = true;
  });
  return tlsInspector;
}

/**
 * Envoy refuses a listener whose filter chains share a match (two chains for one server name,
 * with the same destination port, transport protocol and ALPN list), and matching `server_names`
 * needs the ClientHello: meshfed requires the tls_inspector listener filter to be listed.
 */
function chainMatchesDistinct(chains: readonly unknown[], tlsInspector: boolean, issues: Issues): void {
  const seen = new Map<string, number>();
  chains.forEach((c, i) => {
    const m = isObj(c) && isObj(c['filter_chain_match']) ? c['filter_chain_match'] : {};
    const names = Array.isArray(m['server_names']) ? m['server_names'].map((n) => String(n).toLowerCase()) : [];
    const p = join('filter_chains', i);
    if (names.length > 0 && !tlsInspector) issues.add(join(p, 'filter_chain_match.server_names'), 'needs the envoy.filters.listener.tls_inspector listener filter');
    const port = isObj(m['destination_port']) ? m['destination_port']['value'] : undefined;
    const alpn = Array.isArray(m['application_protocols']) ? m['application_protocols'].map(String).sort() : [];
    const rest = JSON.stringify([port ?? 0, m['transport_protocol'] ?? '', alpn]);
    for (const name of names.length > 0 ? names : ['']) {
      const key = `${name}|${rest}`;
      const first = seen.get(key);
      if (first !== undefined) issues.add(p, `same match as filter_chains[${first}]${name !== '' ? ` (server name ${JSON.stringify(name)})` : ''}`);
      else seen.set(key, i);
    }
  });
}

/**
 * Validates a decoded `envoy.config.listener.v3.Listener`. A socket listener needs an address and
 * filter chains, each with exactly one terminal network filter (HCM or tcp_proxy). A proxyless
 * `api_listener` becomes a listener without address holding one HTTP chain named `api_listener`.
 */
export function validateListener(r: unknown): Result<ListenerConfig> {
  const issues = new Issues();
  if (!isObj(r)) return { ok: false, errors: ['listener: not an object'] };
  if (r['@type'] !== undefined && r['@type'] !== TYPE_URL.listener) issues.add('@type', `expected ${TYPE_URL.listener}`);
  onlyKeys(r, ['name', 'address', 'filter_chains', 'listener_filters', 'traffic_direction', 'api_listener', 'stat_prefix', 'use_original_dst', 'bind_to_port'], '', issues);
  const name = reqString(r, 'name', '', issues) ?? '';
  const out: ListenerConfig = { name, filterChains: [], tlsInspector: listenerFilters(r, issues) };
  captureFields(r, name, out, issues);
  const direction = enumOf(r, 'traffic_direction', ['UNSPECIFIED', 'INBOUND', 'OUTBOUND'], 'UNSPECIFIED', '', issues);
  if (direction !== 'UNSPECIFIED') out.direction = direction;
  const api = optObj(r, 'api_listener', '', issues);
  if (api) {
    if (r['address'] !== undefined || r['filter_chains'] !== undefined) {
      issues.add('api_listener', 'exclusive with address and filter_chains');
    }
    onlyKeys(api, ['api_listener'], 'api_listener', issues);
    const hcm = reqObj(api, 'api_listener', 'api_listener', issues);
    if (hcm) {
      const p = 'api_listener.api_listener';
      if (hcm['@type'] !== TYPED_CONFIG.httpConnectionManager) issues.add(p, 'must be an HttpConnectionManager');
      else {
        const h = httpConnectionManager(hcm, p, issues);
        const chain: HttpFilterChain = { kind: 'http', name: 'api_listener', serverNames: [], setXfcc: h.setXfcc, httpFilters: h.httpFilters };
        if (h.routeConfigName !== undefined) chain.routeConfigName = h.routeConfigName;
        if (h.routes !== undefined) chain.routes = h.routes;
        out.filterChains.push(chain);
      }
    }
  } else {
    const address = socketAddress(r, 'address', '', issues);
    if (address) out.address = address;
    const chains = list(r, 'filter_chains', '', issues);
    if (chains.length === 0) issues.add('filter_chains', 'empty');
    chains.forEach((c, i) => {
      const fc = filterChain(c, i, join('filter_chains', i), issues);
      if (fc) out.filterChains.push(fc);
    });
  }
  if (api === undefined) chainMatchesDistinct(list(r, 'filter_chains', '', new Issues()), out.tlsInspector, issues);
  if (name === LISTENER.eastWestGateway) gatewayHonours(out, issues);
  if (name === LISTENER.virtualOutbound) virtualOutboundHonours(r, out, issues);
  // Only the sidecar's inbound listener tells plaintext from TLS connections when matching chains.
  if (name !== LISTENER.virtualInbound) {
    out.filterChains.forEach((c, i) => {
      if (c.transportProtocol !== undefined) issues.add(join(join('filter_chains', i), 'filter_chain_match.transport_protocol'), `not honoured on listener ${name} (only ${LISTENER.virtualInbound})`);
    });
  }
  return issues.ok ? { ok: true, value: out } : { ok: false, errors: issues.errors };
}

/**
 * Transparent capture (a sidecar behind iptables REDIRECT): `use_original_dst: true` is honoured
 * on `virtualOutbound` only, and `bind_to_port: false` on a sidecar's outbound per-port listener
 * only (`0.0.0.0_<port>` of tcp_proxy chains, reached through virtualOutbound). Anywhere else
 * meshfed would bind or route differently from what was asked, so they are refused there.
 */
function captureFields(r: Obj, name: string, out: ListenerConfig, issues: Issues): void {
  const original = optWrappedBool(r, 'use_original_dst', '', issues);
  if (original === true) {
    if (name !== LISTENER.virtualOutbound) issues.add('use_original_dst', `honoured only on ${LISTENER.virtualOutbound}`);
    else out.useOriginalDst = true;
  }
  const bind = optWrappedBool(r, 'bind_to_port', '', issues);
  if (bind === false) {
    const chains = list(r, 'filter_chains', '', new Issues());
    const tcpOnly = chains.length > 0 && chains.every((c) => isObj(c) && Array.isArray(c['filters']) && c['filters'].every((f) => isObj(f) && isObj(f['typed_config']) && f['typed_config']['@type'] === TYPED_CONFIG.tcpProxy));
    const special = name === LISTENER.virtualOutbound || name === LISTENER.virtualInbound || name === LISTENER.eastWestGateway;
    if (special || !tcpOnly || r['api_listener'] !== undefined) issues.add('bind_to_port', "false is honoured only on a sidecar's outbound tcp_proxy listener (0.0.0.0_<port>)");
    else out.bindToPort = false;
  }
}

/**
 * What the sidecar's virtualOutbound honours (src/sidecar/data-plane.ts, outbound-chain.ts):
 * without `use_original_dst`, one HTTP chain and no chain match. With it (capture), chains are
 * picked by the connection's original destination port as Envoy does (the chain naming that
 * `destination_port`, else the one without: the default chain, e.g. Istio's
 * PassthroughFilterChain); HTTP and tcp_proxy chains alike, but every HTTP chain must carry the
 * same connection manager (the sidecar serves them all with the first; a difference would be
 * ignored). server_names, application_protocols and TLS are not matched on virtualOutbound.
 */
function virtualOutboundHonours(r: Obj, l: ListenerConfig, issues: Issues): void {
  const raw = list(r, 'filter_chains', '', new Issues());
  const firstHttp = l.filterChains.findIndex((c) => c.kind === 'http');
  const filtersOf = (i: number): string => JSON.stringify(isObj(raw[i]) ? raw[i]['filters'] : undefined);
  l.filterChains.forEach((c, i) => {
    const p = join('filter_chains', i);
    if (c.serverNames.length > 0) issues.add(join(p, 'filter_chain_match.server_names'), `not honoured on ${LISTENER.virtualOutbound}`);
    if ((c.applicationProtocols ?? []).length > 0) issues.add(join(p, 'filter_chain_match.application_protocols'), `not honoured on ${LISTENER.virtualOutbound}`);
    if (c.tls) issues.add(join(p, 'transport_socket'), `not honoured on ${LISTENER.virtualOutbound} (apps send plaintext)`);
    if (l.useOriginalDst !== true) {
      if (c.destinationPort !== undefined) issues.add(join(p, 'filter_chain_match.destination_port'), 'honoured only with use_original_dst (capture)');
      if (c.kind === 'tcp') issues.add(join(p, 'filters[0]'), 'a tcp_proxy chain is honoured only with use_original_dst (capture)');
      if (c.kind === 'http' && i !== firstHttp) issues.add(p, 'only one HTTP chain is honoured without use_original_dst');
      return;
    }
    if (c.kind === 'http' && i !== firstHttp && filtersOf(i) !== filtersOf(firstHttp)) issues.add(join(p, 'filters'), `must equal filter_chains[${firstHttp}].filters (one connection manager serves them all)`);
  });
}

/**
 * The east-west gateway routes each SNI to one cluster and never times a connection out for
 * idleness (src/gateway/sni-routes.ts), and matches chains by SNI only: weighted_clusters, an
 * idle_timeout other than Envoy's default and application_protocols are refused on its listener.
 */
function gatewayHonours(l: ListenerConfig, issues: Issues): void {
  l.filterChains.forEach((c, i) => {
    const p = join('filter_chains', i);
    if ((c.applicationProtocols ?? []).length > 0) issues.add(join(p, 'filter_chain_match.application_protocols'), 'not honoured by the east-west gateway');
    if (c.kind !== 'tcp') return;
    const tp = join(p, 'filters[0].typed_config');
    if (c.weighted) issues.add(join(tp, 'weighted_clusters'), 'not honoured by the east-west gateway (one cluster per SNI)');
    if (c.idleTimeoutMs !== TCP_PROXY_DEFAULT_IDLE_TIMEOUT_MS) issues.add(join(tp, 'idle_timeout'), 'not honoured by the east-west gateway');
  });
}
