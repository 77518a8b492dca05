/** The fields of a decoded `DeltaDiscoveryRequest` that the server acts on. */
export interface DeltaDiscoveryRequest {
  typeUrl: string;
  subscribe: string[];
  unsubscribe: string[];
  /** Resources the client already holds (first request of a type on a new stream): name → version. */
  initialVersions: Map<string, string>;
  responseNonce: string;
  /** `error_detail.message` when the request is a NACK. */
  errorDetail?: string;
  node?: unknown;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((n): n is string => typeof n === 'string') : []);

/** Narrows a decoded request; returns undefined when it is not an object. */
export function parseDeltaDiscoveryRequest(raw: unknown): DeltaDiscoveryRequest | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const initialVersions = new Map<string, string>();
  const iv = r['initial_resource_versions'];
  if (typeof iv === 'object' && iv !== null) {
    for (const [name, version] of Object.entries(iv)) if (typeof version === 'string') initialVersions.set(name, version);
  }
  const out: DeltaDiscoveryRequest = {
    typeUrl: str(r['type_url']),
    subscribe: strings(r['resource_names_subscribe']),
    unsubscribe: strings(r['resource_names_unsubscribe']),
    initialVersions,
    responseNonce: str(r['response_nonce']),
  };
  const ed = r['error_detail'];
  if (typeof ed === 'object' && ed !== null) {
    const e = ed as Record<string, unknown>;
    out.errorDetail = str(e['message']) || `error code ${String(e['code'] ?? 'unknown')}`;
  }
  if (r['node'] !== undefined && r['node'] !== null) out.node = r['node'];
  return out;
}
