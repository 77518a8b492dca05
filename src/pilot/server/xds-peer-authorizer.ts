import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseSpiffeId, spiffeIdFromCertificate } from '../../citadel/spiffe.ts';
import { Counter, type Registry } from '../../common/prom.ts';
import type { ProxyNode } from '../../xds/node.ts';
import type { StreamAuthorizer, StreamRefusal } from '../ads/ads-stream.ts';

/** The reason label of `meshfed_xds_auth_failures_total`. */
export type XdsAuthFailure = 'unauthenticated' | 'identity_mismatch';

/** What a call's transport says about its peer (grpc-js `AuthContext`). */
export interface PeerAuthContext {
  /** `ssl` only when the client presented a certificate whose chain reached a trusted root. */
  transportSecurityType?: string;
  sslPeerCertificate?: { raw: Buffer };
}

/**
 * Decides whether `node` may use an xDS stream whose transport peer is `auth`, as istiod does on
 * 15012: a verified mesh certificate is required (none, or one that did not verify →
 * UNAUTHENTICATED), and its SPIFFE ID must name the node's trust domain, namespace (from the node
 * id) and service account (node metadata `SERVICE_ACCOUNT`) (else PERMISSION_DENIED). Pure.
 */
export function checkXdsPeer(auth: PeerAuthContext, node: ProxyNode, trustDomain: string): { refusal: StreamRefusal; reason: XdsAuthFailure } | undefined {
  const raw = auth.transportSecurityType === 'ssl' ? auth.sslPeerCertificate?.raw : undefined;
  if (!raw) {
    return { reason: 'unauthenticated', refusal: { code: grpc.status.UNAUTHENTICATED, details: 'xDS on this port requires a verified mesh client certificate' } };
  }
  let id: ReturnType<typeof spiffeIdFromCertificate>;
  try {
    id = spiffeIdFromCertificate(new X509Certificate(raw));
  } catch {
    id = { ok: false, errors: ['peer certificate does not parse'] };
  }
  const parsed = id.ok ? parseSpiffeId(id.value) : id;
  if (!parsed.ok) {
    return { reason: 'unauthenticated', refusal: { code: grpc.status.UNAUTHENTICATED, details: `peer certificate has no usable SPIFFE ID: ${parsed.errors.join('; ')}` } };
  }
  const p = parsed.value;
  const mismatch: string[] = [];
  if (p.trustDomain !== trustDomain) mismatch.push(`trust domain ${p.trustDomain} is not ${trustDomain}`);
  if (p.namespace !== node.namespace) mismatch.push(`namespace ${node.namespace} is not the certificate's ${p.namespace}`);
  if (p.serviceAccount !== node.serviceAccount) mismatch.push(`service account "${node.serviceAccount}" is not the certificate's ${p.serviceAccount}`);
  if (mismatch.length === 0) return undefined;
  return { reason: 'identity_mismatch', refusal: { code: grpc.status.PERMISSION_DENIED, details: `node ${node.id} does not match its certificate: ${mismatch.join('; ')}` } };
}

/**
 * The StreamAuthorizer of 15012, counting refusals in `meshfed_xds_auth_failures_total{reason}`
 * (`unauthenticated`, `identity_mismatch`).
 */
export function xdsPeerAuthorizer(trustDomain: string, registry: Registry): StreamAuthorizer {
  const failures = new Counter({
    name: 'meshfed_xds_auth_failures_total',
    help: 'xDS streams on 15012 refused: no verified client certificate, or a node identity that does not match it.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of ['unauthenticated', 'identity_mismatch'] satisfies XdsAuthFailure[]) failures.inc({ reason }, 0);
  return (call, node) => {
    const verdict = checkXdsPeer(call.getAuthContext(), node, trustDomain);
    if (!verdict) return undefined;
    failures.inc({ reason: verdict.reason });
    return verdict.refusal;
  };
}
