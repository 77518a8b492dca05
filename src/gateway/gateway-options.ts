import { ADS_API_TYPES, type AdsApiType, isAdsApiType } from '../xds/ads-api-type.ts';
import { GatewayOptionsError } from './errors.ts';

/**
 * Validation of startGateway's options, by hand rather than with a schema library: the gateway
 * process loads nothing it does not run. Pure; throws GatewayOptionsError naming the first bad
 * field (`invalid xds.target: ...`).
 */

/** The validated fields of StartGatewayOptions (the logger is passed through untouched). */
export interface GatewayOptionFields {
  cluster: string;
  address: string;
  port?: number;
  xds: { target: string; serverName?: string; rootsPem?: string; apiType?: AdsApiType };
  ca?: { target: string; serverName?: string; token: string | (() => string); trustDomain: string };
  identity?: { namespace: string; serviceAccount: string };
  ports?: { admin?: number; metrics?: number };
  helloTimeoutMs?: number;
  idleTimeoutMs?: number;
  maxConnections?: number;
}

function record(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GatewayOptionsError(`invalid ${field}: expected an object`);
  return v as Record<string, unknown>;
}

function text(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new GatewayOptionsError(`invalid ${field}: expected a non-empty string`);
  return v;
}

function optionalText(field: string, v: unknown): string | undefined {
  return v === undefined ? undefined : text(field, v);
}

function optionalPort(field: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new GatewayOptionsError(`invalid ${field}: expected a port 0–65535`);
  return v;
}

/** Checks `input` and returns a frozen copy of its fields, undefined ones left out. */
export function validateGatewayOptions(input: unknown): Readonly<GatewayOptionFields> {
  const o = record('options', input);
  const xds = record('xds', o['xds']);
  const serverName = optionalText('xds.serverName', xds['serverName']);
  const rootsPem = optionalText('xds.rootsPem', xds['rootsPem']);
  const apiType = xds['apiType'];
  if (apiType !== undefined && !isAdsApiType(apiType)) throw new GatewayOptionsError(`invalid xds.apiType: must be one of ${ADS_API_TYPES.join(', ')}`);
  let ca: GatewayOptionFields['ca'];
  if (o['ca'] !== undefined) {
    const c = record('ca', o['ca']);
    const caServerName = optionalText('ca.serverName', c['serverName']);
    ca = { target: text('ca.target', c['target']), ...(caServerName ? { serverName: caServerName } : {}), token: typeof c['token'] === 'function' ? (c['token'] as () => string) : text('ca.token', c['token']), trustDomain: text('ca.trustDomain', c['trustDomain']) };
  }
  if (rootsPem !== undefined && ca === undefined) {
    throw new GatewayOptionsError('invalid ca: required with xds.rootsPem (xDS over TLS on 15012 requires the gateway\'s mesh certificate)');
  }
  let identity: GatewayOptionFields['identity'];
  if (o['identity'] !== undefined) {
    const i = record('identity', o['identity']);
    identity = { namespace: text('identity.namespace', i['namespace']), serviceAccount: text('identity.serviceAccount', i['serviceAccount']) };
  }
  const port = optionalPort('port', o['port']);
  let ports: GatewayOptionFields['ports'];
  if (o['ports'] !== undefined) {
    const p = record('ports', o['ports']);
    const admin = optionalPort('ports.admin', p['admin']);
    const metrics = optionalPort('ports.metrics', p['metrics']);
    ports = { ...(admin !== undefined ? { admin } : {}), ...(metrics !== undefined ? { metrics } : {}) };
  }
  const hello = o['helloTimeoutMs'];
  if (hello !== undefined && (typeof hello !== 'number' || !Number.isInteger(hello) || hello <= 0)) {
    throw new GatewayOptionsError('invalid helloTimeoutMs: expected a positive integer');
  }
  const bound = (field: 'idleTimeoutMs' | 'maxConnections'): number | undefined => {
    const v = o[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0)) throw new GatewayOptionsError(`invalid ${field}: expected a positive integer`);
    return v;
  };
  const idleTimeoutMs = bound('idleTimeoutMs');
  const maxConnections = bound('maxConnections');
  return Object.freeze({
    cluster: text('cluster', o['cluster']),
    address: text('address', o['address']),
    ...(port !== undefined ? { port } : {}),
    xds: { target: text('xds.target', xds['target']), ...(serverName ? { serverName } : {}), ...(rootsPem ? { rootsPem } : {}), ...(apiType !== undefined ? { apiType } : {}) },
    ...(ca ? { ca } : {}),
    ...(identity ? { identity } : {}),
    ...(ports ? { ports } : {}),
    ...(typeof hello === 'number' ? { helloTimeoutMs: hello } : {}),
    ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}),
    ...(maxConnections !== undefined ? { maxConnections } : {}),
  });
}
