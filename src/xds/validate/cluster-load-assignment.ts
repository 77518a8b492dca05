import type { Result } from '../../common/result.ts';
import type { ClusterLoadAssignmentConfig, EndpointConfig } from '../config-types.ts';
import { ENDPOINT_META, parseSni } from '../naming.ts';
import { TYPE_URL } from '../type-urls.ts';
import {
  Issues,
  type Obj,
  enumOf,
  filterMetadata,
  isObj,
  join,
  list,
  onlyKeys,
  optInt,
  optObj,
  optString,
  optWrappedInt,
  reqObj,
  reqString,
  socketAddress,
} from './reader.ts';

const HEALTH = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'] as const;
const MAX_WEIGHT = 0xffffffff;

function endpointMetadata(lb: Obj, path: string, issues: Issues, out: EndpointConfig): void {
  const meta = optObj(lb, 'metadata', path, issues);
  if (!meta) return;
  const istio = filterMetadata(meta, ENDPOINT_META.istio);
  if (istio['tlsMode'] === 'istio') out.tlsMode = 'istio';
  if (typeof istio['cluster_id'] === 'string' && istio['cluster_id'] !== '') out.cluster = istio['cluster_id'];
  const mf = filterMetadata(meta, ENDPOINT_META.meshfed);
  const port = mf['inbound_port'];
  if (port !== undefined) {
    const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535) out.inboundPort = n;
    else issues.add(join(path, 'metadata.filter_metadata.meshfed.inbound_port'), 'must be a port number');
  }
  if (typeof mf['workload'] === 'string') out.workload = mf['workload'];
  if (typeof mf['namespace'] === 'string') out.namespace = mf['namespace'];
  const sni = mf['sni'];
  if (sni !== undefined) {
    const at = join(path, 'metadata.filter_metadata.meshfed.sni');
    if (typeof sni !== 'string' || parseSni(sni)?.endpointId === undefined) issues.add(at, 'must be an endpoint-qualified SNI (ep_.<id>_.outbound_.<port>_.<subset>_.<host>)');
    else if (out.tlsMode !== 'istio') issues.add(at, 'needs istio.tlsMode istio: only a mesh mTLS endpoint sends an SNI');
    else if (out.inboundPort !== undefined) issues.add(at, 'cannot be combined with meshfed.inbound_port: an endpoint-qualified SNI is sent to a gateway');
    else out.sni = sni;
  }
}

interface LocalityInfo {
  priority: number;
  locality?: NonNullable<EndpointConfig['locality']>;
  weight?: number;
}

function locality(loc: Obj, path: string, issues: Issues): NonNullable<EndpointConfig['locality']> | undefined {
  const l = optObj(loc, 'locality', path, issues);
  if (!l) return undefined;
  const p = join(path, 'locality');
  onlyKeys(l, ['region', 'zone', 'sub_zone'], p, issues);
  const out: NonNullable<EndpointConfig['locality']> = {};
  const region = optString(l, 'region', p, issues);
  const zone = optString(l, 'zone', p, issues);
  const subZone = optString(l, 'sub_zone', p, issues);
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subZone) out.subZone = subZone;
  return Object.keys(out).length > 0 ? out : undefined;
}

function lbEndpoint(lb: unknown, at: LocalityInfo, path: string, issues: Issues): EndpointConfig | undefined {
  if (!isObj(lb)) {
    issues.add(path, 'not an object');
    return undefined;
  }
  onlyKeys(lb, ['endpoint', 'health_status', 'load_balancing_weight', 'metadata'], path, issues);
  const ep = reqObj(lb, 'endpoint', path, issues);
  if (!ep) return undefined;
  const epPath = join(path, 'endpoint');
  // `hostname` only feeds auto_host_rewrite and health checks, which meshfed does not implement.
  onlyKeys(ep, ['address'], epPath, issues);
  const address = socketAddress(ep, 'address', epPath, issues);
  if (address && address.port === 0) issues.add(join(epPath, 'address.socket_address.port_value'), 'missing');
  const health = enumOf(lb, 'health_status', HEALTH, 'UNKNOWN', path, issues);
  const weight = optWrappedInt(lb, 'load_balancing_weight', 1, MAX_WEIGHT, path, issues) ?? 1;
  if (!address) return undefined;
  const out: EndpointConfig = {
    address,
    weight,
    healthy: health === 'HEALTHY' || health === 'UNKNOWN' || health === 'DEGRADED',
    tlsMode: 'disabled',
    priority: at.priority,
  };
  if (at.locality) out.locality = at.locality;
  if (at.weight !== undefined) out.localityWeight = at.weight;
  endpointMetadata(lb, path, issues, out);
  return out;
}

/** Endpoints of every locality of a load assignment body (shared by EDS and STATIC clusters). */
export function endpointsAt(cla: Obj, path: string, issues: Issues): EndpointConfig[] {
  const out: EndpointConfig[] = [];
  list(cla, 'endpoints', path, issues).forEach((loc, i) => {
    const lp = join(join(path, 'endpoints'), i);
    if (!isObj(loc)) {
      issues.add(lp, 'not an object');
      return;
    }
    onlyKeys(loc, ['locality', 'lb_endpoints', 'load_balancing_weight', 'priority'], lp, issues);
    const weight = optWrappedInt(loc, 'load_balancing_weight', 1, MAX_WEIGHT, lp, issues);
    const at: LocalityInfo = { priority: optInt(loc, 'priority', 0, 128, lp, issues) ?? 0 };
    const l = locality(loc, lp, issues);
    if (l) at.locality = l;
    if (weight !== undefined) at.weight = weight;
    list(loc, 'lb_endpoints', lp, issues).forEach((lb, j) => {
      const e = lbEndpoint(lb, at, join(join(lp, 'lb_endpoints'), j), issues);
      if (e) out.push(e);
    });
  });
  return out;
}

/**
 * Validates a decoded `envoy.config.endpoint.v3.ClusterLoadAssignment`. Endpoint metadata follows
 * `ENDPOINT_META`: `istio.tlsMode` / `istio.cluster_id`, `meshfed.inbound_port` / `workload` /
 * `namespace` / `sni` (an endpoint-qualified SNI, on mesh endpoints without `inbound_port` only). Health UNKNOWN, HEALTHY and DEGRADED count as healthy. Weights default to 1.
 * Each endpoint carries its locality (region / zone / sub_zone), the locality's
 * `load_balancing_weight` and priority.
 */
export function validateClusterLoadAssignment(r: unknown): Result<ClusterLoadAssignmentConfig> {
  const issues = new Issues();
  if (!isObj(r)) return { ok: false, errors: ['cluster load assignment: not an object'] };
  if (r['@type'] !== undefined && r['@type'] !== TYPE_URL.endpoint) issues.add('@type', `expected ${TYPE_URL.endpoint}`);
  onlyKeys(r, ['cluster_name', 'endpoints'], '', issues);
  const clusterName = reqString(r, 'cluster_name', '', issues) ?? '';
  const endpoints = endpointsAt(r, '', issues);
  return issues.ok ? { ok: true, value: { clusterName, endpoints } } : { ok: false, errors: issues.errors };
}
