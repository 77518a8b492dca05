import type { IncomingHttpHeaders } from 'node:http';

/**
 * Peer metadata exchange (Istio's `x-envoy-peer-metadata`): each side of a mesh hop tells the other
 * who it is, so both can label telemetry. The outbound sidecar adds it to the upstream request; the
 * inbound sidecar reads and strips it, and adds its own to the response, which the outbound sidecar
 * reads and strips in turn. Apps never see it.
 */
export const PEER_METADATA_HEADER = 'x-meshfed-peer-metadata';

/** Who a sidecar's workload is. Encoded as base64 JSON. */
export interface PeerMetadata {
  workload: string;
  namespace: string;
  cluster: string;
  serviceAccount: string;
  app: string;
  version: string;
}

export function encodePeerMetadata(m: PeerMetadata): string {
  return Buffer.from(JSON.stringify(m)).toString('base64');
}

/** Decoded values by header value: a sidecar sees the same few peers on every request. */
const decoded = new Map<string, PeerMetadata | undefined>();
const DECODED_MAX = 256;
/** Longer values (never one of ours) are decoded without being remembered. */
const DECODED_MAX_LENGTH = 2048;

function decode(raw: string): PeerMetadata | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  const str = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
  return Object.freeze({
    workload: str('workload'),
    namespace: str('namespace'),
    cluster: str('cluster'),
    serviceAccount: str('serviceAccount'),
    app: str('app'),
    version: str('version'),
  });
}

/**
 * Decodes a header value; undefined when absent or malformed (missing fields become ''). The
 * result is frozen and shared between calls with the same value.
 */
export function decodePeerMetadata(value: string | string[] | undefined): PeerMetadata | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw === '') return undefined;
  if (decoded.has(raw)) return decoded.get(raw);
  const m = decode(raw);
  if (raw.length <= DECODED_MAX_LENGTH) {
    if (decoded.size >= DECODED_MAX) decoded.clear();
    decoded.set(raw, m);
  }
  return m;
}

/** Reads the peer metadata header and deletes it from `headers` (mutates). */
export function takePeerMetadata(headers: IncomingHttpHeaders | Record<string, unknown>): PeerMetadata | undefined {
  const value = headers[PEER_METADATA_HEADER];
  delete headers[PEER_METADATA_HEADER];
  return typeof value === 'string' || Array.isArray(value) ? decodePeerMetadata(value as string | string[]) : undefined;
}
