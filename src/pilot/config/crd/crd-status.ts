/**
 * The status meshfed writes back on a custom resource, as pure functions of what validation said.
 *
 * - Istio kinds get Istio's IstioStatus: `conditions` with one `Reconciled` condition (the type
 *   istiod writes with PILOT_ENABLE_STATUS), `validationMessages` in Istio's analysis message
 *   shape (IST0106 SchemaValidationError, with the field path in the description) and
 *   `observedGeneration`.
 * - ServiceExport gets MCS (KEP-1645) conditions: `Valid`, `Ready` and `Conflict`. `Conflict` is
 *   the federation's comparison of the clusters' exports (src/federation/export-conflict.ts):
 *   `True` (PortConflict) or `False` (NoConflict), and `Unknown` (Pending) while the export is
 *   invalid or not compared (no federation, or this cluster does not export it yet).
 *
 * `lastTransitionTime` is carried over from the previous status while a condition's status stays
 * the same, so recomputing an unchanged object gives a status equal to the stored one (no write).
 */
import type { ConflictVerdict } from '../../../federation/federation-interface.ts';
import type { ConfigError } from '../config-error.ts';
import type { CrdKind } from './crd-kinds.ts';

/** One Istio analysis message (istio.analysis.v1alpha1.AnalysisMessageBase, as written in status). */
export interface ValidationMessage {
  documentationUrl?: string;
  level: 'ERROR' | 'WARNING' | 'INFO';
  type: { code: string; name: string };
  description: string;
}

/** A condition; Istio's and metav1.Condition share these fields. */
export interface StatusCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

/** What validation found for the object's current generation. */
export interface StatusInput {
  generation: number;
  /** Errors of the current generation; empty when it is valid. */
  errors: readonly ConfigError[];
  /** True when an earlier valid version of the object stays in effect despite `errors`. */
  keptLastGood: boolean;
  /** The time to stamp on conditions that change, RFC 3339. */
  now: string;
  /** The status stored on the object now (anything; only well-formed conditions are reused). */
  previous: unknown;
  /** ServiceExport only: the federation's Conflict verdict for this export; absent, Conflict is Unknown. */
  conflict?: ConflictVerdict | undefined;
}

const SCHEMA_ERROR = { code: 'IST0106', name: 'SchemaValidationError' };
const SCHEMA_ERROR_URL = 'https://istio.io/latest/docs/reference/config/analysis/ist0106/';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Stamps `lastTransitionTime`: the previous one while the condition's status did not change. */
function stamp(c: Omit<StatusCondition, 'lastTransitionTime'>, previous: unknown, now: string): StatusCondition {
  const prev = isRecord(previous) && Array.isArray(previous['conditions']) ? previous['conditions'] : [];
  const same = prev.find((p): p is Record<string, unknown> => isRecord(p) && p['type'] === c.type);
  const keep = same !== undefined && same['status'] === c.status && typeof same['lastTransitionTime'] === 'string';
  return { ...c, lastTransitionTime: keep ? String(same['lastTransitionTime']) : now };
}

/** The analysis message for one error: `Schema validation error: <path>: <message>`. */
export function validationMessage(e: ConfigError): ValidationMessage {
  const where = e.path === '' ? '' : `${e.path}: `;
  return { documentationUrl: SCHEMA_ERROR_URL, level: 'ERROR', type: SCHEMA_ERROR, description: `Schema validation error: ${where}${e.message}` };
}

function istioStatus(s: StatusInput): Record<string, unknown> {
  const valid = s.errors.length === 0;
  const message = valid
    ? 'accepted by meshfed'
    : `rejected with ${s.errors.length} error(s); ${s.keptLastGood ? 'the last valid version stays in effect' : 'nothing of this object is in effect'}`;
  const reconciled = stamp({ type: 'Reconciled', status: valid ? 'True' : 'False', reason: valid ? 'Accepted' : 'Invalid', message }, s.previous, s.now);
  return {
    conditions: [reconciled],
    ...(valid ? {} : { validationMessages: s.errors.map(validationMessage) }),
    observedGeneration: s.generation,
  };
}

function mcsExportStatus(s: StatusInput): Record<string, unknown> {
  const valid = s.errors.length === 0;
  const g = s.generation;
  const conditions = [
    stamp(
      valid
        ? { type: 'Valid', status: 'True', observedGeneration: g, reason: 'Valid', message: 'the ServiceExport is valid' }
        : { type: 'Valid', status: 'False', observedGeneration: g, reason: 'Invalid', message: s.errors.map(String).join('; ') },
      s.previous,
      s.now,
    ),
    stamp(
      valid
        ? { type: 'Ready', status: 'True', observedGeneration: g, reason: 'Ready', message: 'exported by meshfed' }
        : { type: 'Ready', status: 'False', observedGeneration: g, reason: 'Pending', message: 'not exported while the ServiceExport is invalid' },
      s.previous,
      s.now,
    ),
    stamp(
      valid && s.conflict !== undefined
        ? { type: 'Conflict', status: s.conflict.status, observedGeneration: g, reason: s.conflict.reason, message: s.conflict.message }
        : {
            type: 'Conflict',
            status: 'Unknown',
            observedGeneration: g,
            reason: 'Pending',
            message: valid
              ? 'not compared with other clusters: this cluster does not export the service (no local endpoints or gateway) or runs no federation'
              : 'not compared while the ServiceExport is invalid',
          },
      s.previous,
      s.now,
    ),
  ];
  return { conditions };
}

/** The status meshfed wants on an object of `kind`. */
export function desiredStatus(kind: CrdKind, s: StatusInput): Record<string, unknown> {
  return kind.status === 'istio' ? istioStatus(s) : mcsExportStatus(s);
}

/** JSON with sorted keys, for comparing statuses regardless of key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** True when two statuses are the same JSON value (key order ignored). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}
