import type { Result } from '../../common/result.ts';
import type { FilterChainConfig, HttpFilterChain, HttpFilterConfig, ListenerConfig, RouteTable } from '../config-types.ts';
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

/** What an HTTP connection manager contributes to a filter chain. */
interface HcmConfig {
  routeConfigName?: string;
  routes?: RouteTable;
  setXfcc: boolean;
  httpFilters: HttpFilterConfig[];
  websocket?: boolean;
  allowConnect?: boolean;
}

const HCM_KEYS = [
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
  if (out.routes !== undefined && out.httpFilters.length > 0) issues.add(join(path, 'http_filters'), 'only the router runs on an inline (inbound) route table');
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
  return out;
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
 * only matches, clusters and the timeout; anything else on them is refused, not ignored.
 */
function inlineRoutesForwardOnly(table: RouteTable, path: string, issues: Issues): void {
  table.virtualHosts.forEach((vh, v) => {
    vh.routes.forEach((r, i) => {
      const p = `${path}.virtual_hosts[${v}].routes[${i}]`;
      const extras = [
        r.redirect && 'redirect', r.directResponse && 'direct_response', r.retry && 'route.retry_policy',
        r.mirrors.length > 0 && 'route.request_mirror_policies', r.rewrite && 'route rewrites',
        (r.requestHeaders || r.responseHeaders || r.clusters.some((c) => c.requestHeaders || c.responseHeaders)) && 'header edits',
        Object.values(r.perFilter).some((v) => v !== undefined) && 'typed_per_filter_config',
        r.hashPolicy && 'route.hash_policy',
      ].filter((x): x is string => typeof x === 'string');
      for (const x of extras) issues.add(p, `${x} is not supported on an inline (inbound) route table`);
    });
  });
}

function tcpProxyCluster(tcp: Obj, path: string, issues: Issues): string | undefined {
  onlyKeys(tcp, ['stat_prefix', 'cluster'], path, issues);
  return reqString(tcp, 'cluster', path, issues);
}

type NetworkFilterConfig = { kind: 'http'; hcm: HcmConfig } | { kind: 'tcp'; cluster: string };

/** The single terminal network filter of a chain (HCM or tcp_proxy). */
function networkFilter(chain: Obj, path: string, issues: Issues): NetworkFilterConfig | undefined {
  const filters = list(chain, 'filters', path, issues);
  if (filters.length !== 1) {
    issues.add(join(path, 'filters'), `exactly one network filter is supported, found ${filters.length}`);
    if (filters.length === 0) return undefined;
  }
  const fp = join(join(path, 'filters'), 0);
  const f = filters[0];
  if (!isObj(f)) {
    issues.add(fp, 'not an object');
    return undefined;
  }
  onlyKeys(f, ['name', 'typed_config'], fp, issues);
  const tc = reqObj(f, 'typed_config', fp, issues);
  if (!tc) return undefined;
  const tp = join(fp, 'typed_config');
  if (tc['@type'] === TYPED_CONFIG.httpConnectionManager) return { kind: 'http', hcm: httpConnectionManager(tc, tp, issues) };
  if (tc['@type'] === TYPED_CONFIG.tcpProxy) {
    const cluster = tcpProxyCluster(tc, tp, issues);
    return cluster === undefined ? undefined : { kind: 'tcp', cluster };
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
  const match = optObj(c, 'filter_chain_match', path, issues);
  if (match) {
    const mp = join(path, 'filter_chain_match');
    onlyKeys(match, ['server_names', 'destination_port', 'transport_protocol'], mp, issues);
    serverNames = stringList(match, 'server_names', mp, issues).map((s) => s.toLowerCase());
    destinationPort = optWrappedInt(match, 'destination_port', 1, 65535, mp, issues);
    const tp = optString(match, 'transport_protocol', mp, issues);
    if (tp !== undefined && tp !== 'tls' && tp !== 'raw_buffer') {
      issues.add(join(mp, 'transport_protocol'), `unsupported value ${JSON.stringify(tp)}`);
    }
  }
  const tls = downstreamTls(c, path, issues);
  const nf = networkFilter(c, path, issues);
  if (!nf) return undefined;
  if (nf.kind === 'tcp') {
    return {
      kind: 'tcp',
      name,
      serverNames,
      cluster: nf.cluster,
      ...(destinationPort !== undefined ? { destinationPort } : {}),
      ...(tls ? { tls } : {}),
    };
  }
  const out: HttpFilterChain = { kind: 'http', name, serverNames, setXfcc: nf.hcm.setXfcc, httpFilters: nf.hcm.httpFilters };
  if (nf.hcm.websocket !== undefined) out.websocket = nf.hcm.websocket;
  if (nf.hcm.allowConnect) out.allowConnect = true;
  if (destinationPort !== undefined) out.destinationPort = destinationPort;
  if (nf.hcm.routeConfigName !== undefined) out.routeConfigName = nf.hcm.routeConfigName;
  if (nf.hcm.routes !== undefined) out.routes = nf.hcm.routes;
  if (tls) out.tls = tls;
  return out;
}

function listenerFilters(l: Obj, issues: Issues): boolean {
  let tlsInspector = false;
  list(l, 'listener_filters', '', issues).forEach((f, i) => {
    const fp = join('listener_filters', i);
    const type = isObj(f) && isObj(f['typed_config']) ? f['typed_config']['@type'] : undefined;
    if (type === TYPED_CONFIG.tlsInspector) tlsInspector = true;
    else issues.add(fp, `unsupported listener filter ${JSON.stringify(type ?? (isObj(f) ? f['name'] : f))}`);
  });
  return tlsInspector;
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
  onlyKeys(r, ['name', 'address', 'filter_chains', 'listener_filters', 'traffic_direction', 'api_listener', 'stat_prefix'], '', issues);
  const name = reqString(r, 'name', '', issues) ?? '';
  const out: ListenerConfig = { name, filterChains: [], tlsInspector: listenerFilters(r, issues) };
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
  return issues.ok ? { ok: true, value: out } : { ok: false, errors: issues.errors };
}
