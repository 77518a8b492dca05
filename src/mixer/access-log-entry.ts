import type { Result } from '../common/result.ts';
import { fail, ok } from '../common/result.ts';
import { MESH_ATTRIBUTE_KEYS as KEY, MESH_ATTRIBUTES_NAMESPACE, type MeshAttributes } from '../xds/mesh-attributes.ts';
import type { ProxyNode } from '../xds/node.ts';
import { fromStruct } from '../xds/struct.ts';

/** The `filter_metadata` namespace under which meshfed's sidecars put their telemetry attributes. */
export const MESHFED_METADATA = MESH_ATTRIBUTES_NAMESPACE;

/**
 * One access-log entry reduced to what mesh-wide metrics need. String attributes come from the
 * entry's `common_properties.metadata.filter_metadata.meshfed` Struct; absent optional ones are
 * `unknown`, as in Istio's metrics.
 */
export interface MeshEntry extends Omit<MeshAttributes, 'reporter'> {
  reporter: 'source' | 'destination';
  /** HTTP entries: the response code (0 when no response was sent); TCP entries: undefined. */
  responseCode?: number;
  /** From `time_to_last_downstream_tx_byte`, when present. */
  durationMs?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function durationMs(v: unknown, errors: string[]): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) {
    errors.push('common_properties.time_to_last_downstream_tx_byte: not a Duration');
    return undefined;
  }
  const seconds = Number(v['seconds'] ?? 0);
  const nanos = Number(v['nanos'] ?? 0);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos) || seconds < 0 || nanos < 0 || nanos >= 1e9) {
    errors.push('common_properties.time_to_last_downstream_tx_byte: invalid seconds or nanos');
    return undefined;
  }
  return seconds * 1000 + nanos / 1e6;
}

function responseCode(response: unknown, errors: string[]): number {
  if (response === undefined || response === null) return 0;
  if (!isRecord(response)) {
    errors.push('response: not an object');
    return 0;
  }
  const code = response['response_code'];
  if (code === undefined || code === null) return 0;
  const value = isRecord(code) ? (code['value'] ?? 0) : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 999) {
    errors.push('response.response_code.value: not an integer in 0..999');
    return 0;
  }
  return value;
}

/**
 * Validates one HTTPAccessLogEntry or TCPAccessLogEntry as proto-loader decodes it (`kind` picks
 * whether a response code is read). The reporter's own cluster falls back to the stream's node
 * (`CLUSTER_ID`) when the entry omits it. Pure; every problem is returned, nothing throws.
 */
export function parseAccessLogEntry(entry: unknown, kind: 'http' | 'tcp', node: ProxyNode | undefined): Result<MeshEntry> {
  if (!isRecord(entry)) return fail(['entry: not an object']);
  const common = entry['common_properties'];
  if (!isRecord(common)) return fail(['common_properties: missing']);
  const metadata = common['metadata'];
  const filterMetadata = isRecord(metadata) ? metadata['filter_metadata'] : undefined;
  const struct = isRecord(filterMetadata) ? filterMetadata[MESHFED_METADATA] : undefined;
  if (!isRecord(struct)) return fail([`common_properties.metadata.filter_metadata.${MESHFED_METADATA}: missing`]);
  const attrs = fromStruct(struct);
  const errors: string[] = [];
  /** Reads a string attribute; `fallback` undefined makes it required. */
  const str = (key: string, fallback: string | undefined): string => {
    const v = attrs[key];
    if (v === undefined || v === null || v === '') {
      if (fallback === undefined) errors.push(`${MESHFED_METADATA}.${key}: missing`);
      return fallback ?? 'unknown';
    }
    if (typeof v !== 'string') {
      errors.push(`${MESHFED_METADATA}.${key}: not a string`);
      return 'unknown';
    }
    return v;
  };
  const reporter = str(KEY.reporter, undefined);
  if (errors.length === 0 && reporter !== 'source' && reporter !== 'destination') {
    errors.push(`${MESHFED_METADATA}.reporter: ${JSON.stringify(reporter)} is not source or destination`);
  }
  const parsed: MeshEntry = {
    reporter: reporter === 'destination' ? 'destination' : 'source',
    sourceWorkload: str(KEY.sourceWorkload, 'unknown'),
    sourceNamespace: str(KEY.sourceNamespace, 'unknown'),
    sourceCluster: str(KEY.sourceCluster, reporter === 'source' ? node?.cluster : undefined),
    destinationService: str(KEY.destinationService, undefined),
    destinationWorkload: str(KEY.destinationWorkload, 'unknown'),
    destinationCluster: str(KEY.destinationCluster, reporter === 'destination' ? node?.cluster : undefined),
    connectionSecurityPolicy: str(KEY.connectionSecurityPolicy, 'unknown'),
  };
  const duration = durationMs(common['time_to_last_downstream_tx_byte'], errors);
  if (duration !== undefined) parsed.durationMs = duration;
  if (kind === 'http') parsed.responseCode = responseCode(entry['response'], errors);
  return errors.length > 0 ? fail(errors) : ok(parsed);
}
