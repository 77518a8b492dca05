import { isIP } from 'node:net';
import type { Result } from '../../common/result.ts';
import type { ClusterConfig } from '../config-types.ts';
import { TYPE_URL } from '../type-urls.ts';
import { endpointsAt } from './cluster-load-assignment.ts';
import { CLUSTER_LB_FIELDS, clusterLb } from './cluster-lb.ts';
import { ENDPOINT_META } from '../naming.ts';
import { Issues, type Obj, enumOf, filterMetadata, isObj, onlyKeys, optDurationMs, optObj, optString, reqString, requireAds } from './reader.ts';
import { DNS_FIELDS, dnsResolution } from './cluster-dns.ts';
import { upstreamProtocol } from './cluster-protocol.ts';
import { upstreamTls } from './tls-context.ts';

/** Envoy's default connect timeout. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/**
 * Validates a decoded `envoy.config.cluster.v3.Cluster`. Types EDS (over ADS), STATIC (inline
 * `load_assignment` of IPs) and STRICT_DNS / LOGICAL_DNS (inline hostnames, see cluster-dns.ts); absent enums are their proto3 defaults (type STATIC, lb_policy ROUND_ROBIN).
 * Upstream TLS comes from an `envoy.transport_sockets.tls` UpstreamTlsContext. `metadata` is
 * informational and accepted; on an inbound cluster `meshfed.service` names the service it serves. Load balancing, outlier detection, circuit breakers and HTTP
 * connection options are read by `clusterLb` (cluster-lb.ts).
 */
export function validateCluster(r: unknown): Result<ClusterConfig> {
  const issues = new Issues();
  if (!isObj(r)) return { ok: false, errors: ['cluster: not an object'] };
  if (r['@type'] !== undefined && r['@type'] !== TYPE_URL.cluster) issues.add('@type', `expected ${TYPE_URL.cluster}`);
  onlyKeys(
    r,
    ['name', 'type', 'eds_cluster_config', 'load_assignment', 'connect_timeout', 'lb_policy', 'transport_socket', 'metadata', 'typed_extension_protocol_options', ...CLUSTER_LB_FIELDS, ...DNS_FIELDS],
    '',
    issues,
  );
  const name = reqString(r, 'name', '', issues) ?? '';
  const type = enumOf(r, 'type', ['STATIC', 'EDS', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST'], 'STATIC', '', issues);
  const policy = enumOf(r, 'lb_policy', ['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'RING_HASH', 'MAGLEV', 'CLUSTER_PROVIDED'], 'ROUND_ROBIN', '', issues);
  const connectTimeoutMs = optDurationMs(r, 'connect_timeout', '', issues) ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (connectTimeoutMs <= 0) issues.add('connect_timeout', 'must be positive');
  if (type === 'ORIGINAL_DST') return originalDstCluster(r, name, policy, connectTimeoutMs, issues);
  if (policy === 'CLUSTER_PROVIDED') issues.add('lb_policy', 'CLUSTER_PROVIDED is honoured only on an ORIGINAL_DST cluster');
  const lbPolicy = policy === 'CLUSTER_PROVIDED' ? 'ROUND_ROBIN' : policy;
  const out: ClusterConfig = { name, type, edsServiceName: name, lbPolicy, connectTimeoutMs };
  clusterLb(r, out, issues);
  upstreamProtocol(r, out, issues);
  // The gateway passes TLS bytes through: it never speaks HTTP to its endpoints.
  if (name.startsWith('outbound_.') && out.upstreamHttp2) issues.add('typed_extension_protocol_options', 'not honoured on gateway (passthrough) clusters');
  // Connection reuse limits act on meshfed's own HTTP upstream transports, which only outbound
  // clusters use: the inbound hop (to the local app) and the gateway's TCP passthrough do not.
  if (name.startsWith('inbound|') || name.startsWith('outbound_.')) {
    if (out.maxRequestsPerConnection !== undefined) issues.add('max_requests_per_connection', 'not honoured on inbound and gateway clusters');
    if (out.idleTimeoutMs !== undefined) issues.add('common_http_protocol_options.idle_timeout', 'not honoured on inbound and gateway clusters');
  }
  const eds = optObj(r, 'eds_cluster_config', '', issues);
  const la = optObj(r, 'load_assignment', '', issues);
  if (type === 'EDS') {
    if (!eds) {
      if (r['eds_cluster_config'] === undefined) issues.add('eds_cluster_config', 'missing');
    } else {
      onlyKeys(eds, ['eds_config', 'service_name'], 'eds_cluster_config', issues);
      requireAds(eds, 'eds_config', 'eds_cluster_config', issues);
      const svc = optString(eds, 'service_name', 'eds_cluster_config', issues);
      if (svc) out.edsServiceName = svc;
    }
    if (la) issues.add('load_assignment', 'not allowed on an EDS cluster');
  } else {
    if (eds) issues.add('eds_cluster_config', `not allowed on a ${type} cluster`);
    if (!la) {
      if (r['load_assignment'] === undefined) issues.add('load_assignment', 'missing');
    } else {
      onlyKeys(la, ['cluster_name', 'endpoints'], 'load_assignment', issues);
      out.staticEndpoints = endpointsAt(la, 'load_assignment', issues);
    }
  }
  if (type === 'STRICT_DNS' || type === 'LOGICAL_DNS') {
    out.dns = dnsResolution(r, issues);
    if (type === 'LOGICAL_DNS' && (out.staticEndpoints ?? []).length !== 1) issues.add('load_assignment', 'a LOGICAL_DNS cluster takes exactly one endpoint');
  } else {
    for (const f of DNS_FIELDS) if (r[f] !== undefined) issues.add(f, `only STRICT_DNS and LOGICAL_DNS clusters resolve names`);
    (out.staticEndpoints ?? []).forEach((e, i) => {
      if (isIP(e.address.host) === 0) issues.add(`load_assignment.endpoints.lb_endpoints[${i}]`, `a ${type} cluster's endpoint address must be an IP (${e.address.host})`);
    });
  }
  const service = filterMetadata(r['metadata'], ENDPOINT_META.meshfed)['service'];
  if (typeof service === 'string' && service !== '' && name.startsWith('inbound|')) out.serviceHost = service;
  const tls = upstreamTls(r, '', issues);
  if (tls) out.tls = tls;
  // Originated TLS carries the cluster's protocol: h2 (ALPN h2, or none) with http2_protocol_options, HTTP/1.1 otherwise.
  if (tls?.origination !== undefined) {
    const h2Alpn = tls.alpn.includes('h2');
    if (out.upstreamHttp2 && !h2Alpn && tls.alpn.length > 0) {
      issues.add('transport_socket.typed_config.common_tls_context.alpn_protocols', `offers ${tls.alpn.join(', ')} but the cluster speaks HTTP/2 (http2_protocol_options): offer h2`);
    }
    if (!out.upstreamHttp2 && h2Alpn) {
      issues.add('transport_socket.typed_config.common_tls_context.alpn_protocols', 'offers h2 but the cluster speaks HTTP/1.1: set http2_protocol_options');
    }
  }
  return issues.ok ? { ok: true, value: out } : { ok: false, errors: issues.errors };
}


/**
 * An ORIGINAL_DST cluster (Istio's PassthroughCluster): honoured with lb_policy CLUSTER_PROVIDED,
 * plaintext, and no endpoints, load balancing or protocol options, because meshfed's tcp_proxy on
 * a capture proxy's virtualOutbound dials each connection's original destination directly.
 * Anything else it would not honour is refused with its path.
 */
function originalDstCluster(r: Obj, name: string, policy: string, connectTimeoutMs: number, issues: Issues): Result<ClusterConfig> {
  if (policy !== 'CLUSTER_PROVIDED') issues.add('lb_policy', 'an ORIGINAL_DST cluster takes lb_policy CLUSTER_PROVIDED');
  for (const key of Object.keys(r)) {
    if (!['@type', 'name', 'type', 'cluster_discovery_type', 'lb_policy', 'connect_timeout', 'metadata'].includes(key)) issues.add(key, 'not honoured on an ORIGINAL_DST cluster');
  }
  const out: ClusterConfig = { name, type: 'ORIGINAL_DST', edsServiceName: name, lbPolicy: 'ROUND_ROBIN', connectTimeoutMs };
  return issues.ok ? { ok: true, value: out } : { ok: false, errors: issues.errors };
}
