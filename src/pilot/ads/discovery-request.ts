import { TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';

/** The fields of a decoded `DiscoveryRequest` that the server acts on. */
export interface DiscoveryRequest {
  typeUrl: string;
  resourceNames: string[];
  responseNonce: string;
  versionInfo: string;
  /** `error_detail.message` when the request is a NACK. */
  errorDetail?: string;
  node?: unknown;
}

const KNOWN: readonly string[] = Object.values(TYPE_URL);

export function isXdsTypeUrl(t: string): t is XdsTypeUrl {
  return KNOWN.includes(t);
}

/** Narrows a decoded request; returns undefined when it is not an object. */
export function parseDiscoveryRequest(raw: unknown): DiscoveryRequest | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const names = Array.isArray(r['resource_names']) ? r['resource_names'].filter((n): n is string => typeof n === 'string') : [];
  const out: DiscoveryRequest = {
    typeUrl: str(r['type_url']),
    resourceNames: names,
    responseNonce: str(r['response_nonce']),
    versionInfo: str(r['version_info']),
  };
  const ed = r['error_detail'];
  if (typeof ed === 'object' && ed !== null) {
    const e = ed as Record<string, unknown>;
    out.errorDetail = str(e['message']) || `error code ${String(e['code'] ?? 'unknown')}`;
  }
  if (r['node'] !== undefined && r['node'] !== null) out.node = r['node'];
  return out;
}
