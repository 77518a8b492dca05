import { X509Certificate } from 'node:crypto';
import { fail, ok, type Result } from '../common/result.ts';
import { InvalidSpiffeIdError } from './errors.ts';
import { readCertificate } from './x509-read.ts';

/**
 * A workload's identity, the parts of `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`.
 * Contract (checked by formatSpiffeId / parseSpiffeId):
 * - trustDomain: lowercase DNS-style name (labels of [a-z0-9_-], not starting or ending with `-`,
 *   at most 63 characters each, 253 overall), e.g. `cluster.local`;
 * - namespace: a Kubernetes namespace (DNS-1123 label: [a-z0-9-], at most 63 characters);
 * - serviceAccount: a Kubernetes service account name (DNS-1123 subdomain, at most 253 characters).
 */
export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

const SCHEME = 'spiffe://';
const MAX_ID_LENGTH = 2048;
const TRUST_DOMAIN_LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function trustDomainError(td: string): string | undefined {
  if (td.length === 0) return 'trust domain is empty';
  if (td.length > 253) return 'trust domain is longer than 253 characters';
  for (const label of td.split('.')) {
    if (label.length === 0) return `trust domain "${td}" has an empty label`;
    if (label.length > 63) return `trust domain "${td}" has a label longer than 63 characters`;
    if (!TRUST_DOMAIN_LABEL.test(label)) return `trust domain "${td}" is not a lowercase DNS name`;
  }
  return undefined;
}

function namespaceError(ns: string): string | undefined {
  if (ns.length === 0) return 'namespace is empty';
  if (ns.length > 63 || !DNS_LABEL.test(ns)) return `namespace "${ns}" is not a DNS-1123 label`;
  return undefined;
}

function serviceAccountError(sa: string): string | undefined {
  if (sa.length === 0) return 'service account is empty';
  if (sa.length > 253 || !sa.split('.').every((l) => l.length <= 63 && DNS_LABEL.test(l))) {
    return `service account "${sa}" is not a DNS-1123 subdomain`;
  }
  return undefined;
}

function identityErrors(id: WorkloadIdentity): string[] {
  return [trustDomainError(id.trustDomain), namespaceError(id.namespace), serviceAccountError(id.serviceAccount)].filter(
    (e): e is string => e !== undefined,
  );
}

/**
 * Formats a workload identity as its SPIFFE ID. Throws InvalidSpiffeIdError when a part is not
 * well formed: callers pass identities they already validated, so that is a programmer error.
 */
export function formatSpiffeId(id: WorkloadIdentity): string {
  const errors = identityErrors(id);
  if (errors.length > 0) throw new InvalidSpiffeIdError(errors.join('; '));
  return `${SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * Parses `spiffe://<td>/ns/<ns>/sa/<sa>` strictly: exact lowercase scheme, no userinfo, port,
 * query, fragment, percent-encoding, empty or extra segments, and every part as WorkloadIdentity
 * describes. Never throws.
 */
export function parseSpiffeId(uri: string): Result<WorkloadIdentity> {
  if (typeof uri !== 'string') return fail(['SPIFFE ID is not a string']);
  if (uri.length > MAX_ID_LENGTH) return fail([`SPIFFE ID is longer than ${MAX_ID_LENGTH} characters`]);
  if (!uri.startsWith(SCHEME)) return fail([`"${uri}" does not start with ${SCHEME}`]);
  const rest = uri.slice(SCHEME.length);
  const bad = /[^a-z0-9._\-/]/i.exec(rest);
  if (bad) return fail([`"${uri}" contains the character ${JSON.stringify(bad[0])}`]);
  const parts = rest.split('/');
  const [td, nsKey, ns, saKey, sa] = parts;
  if (parts.length !== 5 || nsKey !== 'ns' || saKey !== 'sa' || td === undefined || ns === undefined || sa === undefined) {
    return fail([`"${uri}" is not of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`]);
  }
  const identity: WorkloadIdentity = { trustDomain: td, namespace: ns, serviceAccount: sa };
  const errors = identityErrors(identity);
  return errors.length > 0 ? fail(errors) : ok(identity);
}

/**
 * Extracts the SPIFFE ID of a certificate: its single URI SAN, which must itself be a well-formed
 * workload SPIFFE ID. Zero or several URI SANs are rejected (SPIFFE X.509-SVID rule).
 */
export function spiffeIdFromCertificate(cert: X509Certificate | string): Result<string> {
  let x509: X509Certificate;
  try {
    x509 = typeof cert === 'string' ? new X509Certificate(cert) : cert;
  } catch (e) {
    return fail([`certificate does not parse: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const info = readCertificate(x509.raw);
  if (!info.ok) return info;
  const uris = info.value.subjectAltNames.filter((n) => n.type === 'uri');
  if (uris.length !== 1) return fail([`certificate has ${uris.length} URI SANs, expected exactly one`]);
  const id = uris[0]!.value;
  const parsed = parseSpiffeId(id);
  return parsed.ok ? ok(id) : parsed;
}
