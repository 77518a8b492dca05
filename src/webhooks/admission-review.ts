import { z } from 'zod';
import { fail, ok, type Result } from '../common/result.ts';
import { formatZodIssues } from '../common/zod-issues.ts';

/**
 * The `admission.k8s.io/v1` AdmissionReview the API server POSTs to a webhook, and the one a
 * webhook answers with. Only the request fields meshfed reads are typed; the rest of the request
 * is accepted as the API server sends it (it grows with Kubernetes versions).
 */
const requestSchema = z.looseObject({
  uid: z.string().min(1, 'required'),
  kind: z.looseObject({ group: z.string(), version: z.string(), kind: z.string() }),
  operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT'], 'must be CREATE, UPDATE, DELETE or CONNECT'),
  namespace: z.string().optional(),
  name: z.string().optional(),
  object: z.unknown().optional(),
});

const reviewSchema = z.looseObject({
  apiVersion: z.literal('admission.k8s.io/v1', 'must be admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview', 'must be AdmissionReview'),
  request: requestSchema,
});

export type AdmissionRequest = z.infer<typeof requestSchema>;

/** What a webhook decides about one request (`uid` is added when the review is written). */
export interface AdmissionDecision {
  allowed: boolean;
  /** Set when denied: the reason shown to `kubectl` users, and an HTTP-like 4xx code. */
  status?: { code: number; reason?: string; message: string };
  /** RFC 6902 operations, sent base64-encoded with `patchType: JSONPatch`. */
  patch?: readonly JsonPatchOperation[];
  warnings?: readonly string[];
}

/** One RFC 6902 operation (the subset the injector writes). */
export type JsonPatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * Parses a request body into the AdmissionReview's request. Every problem is returned with its
 * field path (`request.uid: required`), for a 400 answer.
 */
export function parseAdmissionReview(body: string): Result<AdmissionRequest, string[]> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e: unknown) {
    return fail([`the body is not JSON: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const r = reviewSchema.safeParse(value);
  return r.success ? ok(r.data.request) : fail(formatZodIssues(r.error.issues));
}

/** The AdmissionReview answering `uid` with `decision`. */
export function admissionResponse(uid: string, decision: AdmissionDecision): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: decision.allowed };
  if (decision.status) response['status'] = decision.status;
  if (decision.warnings && decision.warnings.length > 0) response['warnings'] = decision.warnings;
  if (decision.patch && decision.patch.length > 0) {
    response['patchType'] = 'JSONPatch';
    response['patch'] = Buffer.from(JSON.stringify(decision.patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/** A JSON Pointer segment (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function pointerSegment(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
