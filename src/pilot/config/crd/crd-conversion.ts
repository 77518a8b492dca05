/**
 * Custom resource → configuration document, a pure function. The API server adds fields no user
 * writes (resourceVersion, uid, managedFields, …) and meshfed itself writes `status`; those are
 * removed, and everything else goes through the same validator as a file (config-parse.ts), so a
 * custom resource and the same YAML in a folder give the same ConfigObject or the same errors.
 */
import type { Result } from '../../../common/result.ts';
import type { ConfigError } from '../config-error.ts';
import { type ParseOptions, parseConfigValue } from '../config-parse.ts';
import type { ConfigObject } from '../config-types.ts';
import { type CrdKind, resourceName } from './crd-kinds.ts';

/** Metadata the API server (or kubectl) maintains; never configuration. */
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
  'finalizers',
  'ownerReferences',
];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The document a user wrote: `raw` without server-maintained metadata and without `status`. */
export function userDocument(raw: unknown): unknown {
  if (!isRecord(raw)) return raw;
  const { status: _status, ...rest } = raw;
  if (!isRecord(rest['metadata'])) return rest;
  const metadata: Record<string, unknown> = { ...rest['metadata'] };
  for (const key of SERVER_METADATA) delete metadata[key];
  if (isRecord(metadata['annotations'])) {
    const { [LAST_APPLIED]: _applied, ...annotations } = metadata['annotations'];
    if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
    else delete metadata['annotations'];
  }
  return { ...rest, metadata };
}

/** `kubernetes:virtualservices.networking.istio.io/default/reviews`, the ConfigObject's `source`. */
export function crdSource(kind: CrdKind, namespace: string, name: string): string {
  return `kubernetes:${resourceName(kind)}/${namespace}/${name}`;
}

/** Validates one custom resource of `kind` as configuration. */
export function fromCustomResource(kind: CrdKind, raw: unknown, opts: ParseOptions = {}): Result<ConfigObject, ConfigError[]> {
  const meta = isRecord(raw) && isRecord(raw['metadata']) ? raw['metadata'] : {};
  const ns = typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default';
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  return parseConfigValue(userDocument(raw), crdSource(kind, ns, name), opts);
}
