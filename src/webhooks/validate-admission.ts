import { type ConfigError, parseConfigText } from '../pilot/config/index.ts';
import type { AdmissionDecision, AdmissionRequest } from './admission-review.ts';

/**
 * Metadata the API server writes on every object. meshfed reads only name, namespace, labels and
 * annotations; these are the API server's, not the user's, so they are not validated.
 */
const SERVER_METADATA = [
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'finalizers',
  'ownerReferences',
  'generateName',
  'selfLink',
] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The object as a configuration document: the API server's metadata and the `status`
 * subresource dropped, the request's namespace filled in when the object does not carry one.
 * Every other field is kept, so that the validators see (and refuse) whatever the user wrote.
 */
export function configDocument(object: Record<string, unknown>, namespace: string | undefined): Record<string, unknown> {
  const { status: _status, ...rest } = object;
  if (!isRecord(rest['metadata'])) return rest;
  const metadata: Record<string, unknown> = { ...rest['metadata'] };
  for (const key of SERVER_METADATA) delete metadata[key];
  if (metadata['namespace'] === undefined && namespace !== undefined && namespace !== '') metadata['namespace'] = namespace;
  return { ...rest, metadata };
}

/** `VirtualService default/reviews: spec.http[0].route[0].weight: …`: what `meshfed apply` prints after the file name. */
export function describeConfigError(e: ConfigError): string {
  const what = [e.kind, e.name].filter((s) => s !== undefined && s !== '').join(' ');
  return [what, e.path, e.message].filter((s) => s !== '').join(': ');
}

/**
 * `/validate`: a CREATE or UPDATE of a meshfed kind is allowed when the validators that read
 * configuration files accept it (config-parse.ts), and denied with every error and its field path
 * otherwise (code 400, reason BadRequest, one error per line). DELETE and CONNECT are allowed.
 * A kind meshfed does not read is refused as the file loader refuses it.
 */
export function validateAdmission(request: AdmissionRequest, domainSuffix = 'cluster.local'): AdmissionDecision {
  if (request.operation === 'DELETE' || request.operation === 'CONNECT') return { allowed: true };
  if (!isRecord(request.object)) {
    return { allowed: false, status: { code: 400, reason: 'BadRequest', message: `request.object: required for ${request.operation}` } };
  }
  const doc = configDocument(request.object, request.namespace);
  const r = parseConfigText(JSON.stringify(doc), 'admission', { domainSuffix });
  if (r.ok) return { allowed: true };
  return { allowed: false, status: { code: 400, reason: 'BadRequest', message: r.errors.map(describeConfigError).join('\n') } };
}
