import { createHash, X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
// Citadel's workload-side modules, not its index: a sidecar must not load the CA server.
import { parseSpiffeId, spiffeIdFromCertificate } from '../citadel/spiffe.ts';
import { fail, ok, type Result } from '../common/result.ts';
import type { ListenerConfig, UriSanMatcher } from '../xds/config-types.ts';
import { ServerSanMismatchError } from './errors.ts';

/**
 * Peer identity checks that run after the TLS library verified the chain against the roots:
 * the leaf must carry exactly one URI SAN, a well-formed SPIFFE ID. Hostnames play no part.
 */

/** The verified peer of an mTLS connection. */
export interface PeerIdentity {
  spiffeId: string;
  /** sha256 of the leaf certificate's DER, lower-case hex (XFCC `Hash`). */
  leafSha256: string;
  serial: string;
}

export function peerIdentityOf(cert: X509Certificate): Result<PeerIdentity> {
  const id = spiffeIdFromCertificate(cert);
  if (!id.ok) return id;
  return ok({ spiffeId: id.value, leafSha256: createHash('sha256').update(cert.raw).digest('hex'), serial: cert.serialNumber });
}

/** The clientAuth extended key usage (RFC 5280 id-kp-clientAuth). */
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/**
 * The checks of an inbound (client) peer: those of peerIdentityOf; the leaf must carry the
 * clientAuth EKU, as Citadel issues it (OpenSSL enforces a present EKU, but lets a leaf without
 * any EKU through; meshfed refuses that too); and the SPIFFE ID's trust domain must be one of
 * `trustDomains` (the mesh's own, then any aliases).
 */
export function clientPeerIdentityOf(cert: X509Certificate, trustDomains: readonly string[]): Result<PeerIdentity> {
  const eku = cert.keyUsage as string[] | undefined;
  if (!eku?.includes(CLIENT_AUTH_EKU)) return fail([`client certificate lacks the clientAuth extended key usage (has ${eku && eku.length > 0 ? eku.join(', ') : 'none'})`]);
  const peer = peerIdentityOf(cert);
  if (!peer.ok) return peer;
  const id = parseSpiffeId(peer.value.spiffeId);
  if (!id.ok) return id;
  if (!trustDomains.includes(id.value.trustDomain)) {
    return fail([`peer ${peer.value.spiffeId} is in trust domain "${id.value.trustDomain}", not the mesh's (${trustDomains.join(', ')})`]);
  }
  return peer;
}

/**
 * Reads and checks the client peer of a TLS socket accepted by an inbound listener (see
 * clientPeerIdentityOf); the mesh's trust domain is that of `ownSpiffeId`, and `aliases` (the
 * listener's accepted trust domains, meshConfig `trustDomainAliases`) are accepted too.
 */
export function clientPeerIdentityOfSocket(socket: TLSSocket, ownSpiffeId: string, aliases: readonly string[] = []): Result<PeerIdentity> {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return fail(['peer presented no certificate']);
  const own = parseSpiffeId(ownSpiffeId);
  return clientPeerIdentityOf(cert, [...new Set([...(own.ok ? [own.value.trustDomain] : []), ...aliases])]);
}

/**
 * The trust domains an inbound listener's mTLS chains accept (their `combined_validation_context`
 * SAN prefixes, which Pilot writes from the mesh's trust domain and its aliases); empty when none
 * says (the proxy's own trust domain only).
 */
export function listenerTrustDomains(listener: ListenerConfig | undefined): readonly string[] {
  const out = new Set<string>();
  for (const c of listener?.filterChains ?? []) for (const td of c.tls?.trustDomains ?? []) out.add(td);
  return [...out];
}

/** Reads and checks the peer of a connected TLS socket. */
export function peerIdentityOfSocket(socket: TLSSocket): Result<PeerIdentity> {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return fail(['peer presented no certificate']);
  return peerIdentityOf(cert);
}

/**
 * `checkServerIdentity` for outbound mTLS: accepts any server whose (already chain-verified)
 * certificate carries a well-formed SPIFFE ID; returns an Error to abort the handshake otherwise.
 */
export function checkMeshServerIdentity(_host: string, cert: PeerCertificate): Error | undefined {
  if (!cert.raw) return new Error('server presented no certificate');
  let id: Result<string>;
  try {
    id = spiffeIdFromCertificate(new X509Certificate(cert.raw));
  } catch (e: unknown) {
    return new Error(`server certificate does not parse: ${e instanceof Error ? e.message : String(e)}`);
  }
  return id.ok ? undefined : new Error(`server certificate rejected: ${id.errors.join('; ')}`);
}

/** True when `id` matches one of `sans` (exact: equal; prefix: starts with). */
export function matchesServerSans(id: string, sans: readonly UriSanMatcher[]): boolean {
  return sans.some((m) => (m.kind === 'exact' ? id === m.value : id.startsWith(m.value)));
}

/**
 * `checkServerIdentity` for outbound mTLS to a cluster that names its servers' SPIFFE IDs
 * (`serverSans`, from Pilot's `match_typed_subject_alt_names`): checkMeshServerIdentity, then
 * the leaf's SPIFFE ID must match one of them, else a ServerSanMismatchError aborts the handshake
 * and `onMismatch` runs once for it (the cluster's `ssl.fail_verify_san` stat). No matchers:
 * checkMeshServerIdentity alone (any mesh identity).
 */
export function meshServerIdentityCheck(
  sans: readonly UriSanMatcher[] | undefined,
  onMismatch?: () => void,
): (host: string, cert: PeerCertificate) => Error | undefined {
  if (sans === undefined || sans.length === 0) return checkMeshServerIdentity;
  return (host, cert) => {
    const base = checkMeshServerIdentity(host, cert);
    if (base) return base;
    const id = spiffeIdFromCertificate(new X509Certificate(cert.raw));
    if (id.ok && matchesServerSans(id.value, sans)) return undefined;
    onMismatch?.();
    const wanted = sans.map((m) => (m.kind === 'exact' ? m.value : `${m.value}*`)).join(', ');
    return new ServerSanMismatchError(`server identity ${id.ok ? id.value : '(none)'} is not one of the cluster's: ${wanted}`);
  };
}

/**
 * Envoy's XFCC element for a verified peer: `By=<own spiffe>;Hash=<sha256 hex>;URI=<peer spiffe>`.
 */
export function buildXfcc(ownSpiffeId: string, peer: PeerIdentity): string {
  return `By=${ownSpiffeId};Hash=${peer.leafSha256};URI=${peer.spiffeId}`;
}
