import type { DetailedPeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { fail, type Result } from '../common/result.ts';
import { certificatesFromPem } from './ca-files.ts';
import { OID } from './der.ts';
import { spiffeIdFromCertificate } from './spiffe.ts';
import { readCertificate } from './x509-read.ts';

/** Every certificate in a PEM bundle, in order (non-certificate blocks are ignored). */
export function rootsFromPem(pem: string): X509Certificate[] {
  return certificatesFromPem(pem);
}

/** The SHA-256 fingerprints (Node's `fingerprint256` form) of every root of a PEM bundle, in order. */
export function rootFingerprints(pem: string): string[] {
  try {
    return certificatesFromPem(pem).map((c) => c.fingerprint256);
  } catch {
    return [];
  }
}

/**
 * The fingerprint of the root in `rootsPem` that the chain (leaf first, PEM, roots excluded or
 * not) is issued under, by signature; undefined when it reaches none of them or does not parse.
 */
export function chainRootFingerprint(chainPem: string, rootsPem: string): string | undefined {
  try {
    const chain = certificatesFromPem(chainPem);
    const roots = certificatesFromPem(rootsPem);
    for (const c of chain) {
      const direct = roots.find((r) => r.raw.equals(c.raw));
      if (direct) return direct.fingerprint256;
      const issuer = roots.find((r) => c.checkIssued(r) && c.verify(r.publicKey));
      if (issuer) return issuer.fingerprint256;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** True when both are the same certificate (SHA-256 fingerprint). */
export function sameRoot(a: X509Certificate | string, b: X509Certificate | string): boolean {
  const fa = (typeof a === 'string' ? new X509Certificate(a) : a).fingerprint256;
  const fb = (typeof b === 'string' ? new X509Certificate(b) : b).fingerprint256;
  return fa === fb;
}

/** A peer's chain: leaf first, as X509Certificates, PEM text, or Node's getPeerCertificate(true). */
export type PeerChain = readonly X509Certificate[] | string | DetailedPeerCertificate;

/** Options of verifyPeerChain. */
export interface VerifyPeerChainOptions {
  /** Require this EKU on the leaf; by default either serverAuth or clientAuth suffices. */
  usage?: 'server' | 'client';
  now?: Date;
}

const MAX_DEPTH = 6;

function toChain(chain: PeerChain): X509Certificate[] {
  if (typeof chain === 'string') return certificatesFromPem(chain);
  if (Array.isArray(chain)) return [...(chain as readonly X509Certificate[])];
  const out: X509Certificate[] = [];
  let node: DetailedPeerCertificate | undefined = chain as DetailedPeerCertificate;
  const seen = new Set<string>();
  while (node?.raw && !seen.has(node.fingerprint256) && out.length < MAX_DEPTH) {
    seen.add(node.fingerprint256);
    out.push(new X509Certificate(node.raw));
    node = node.issuerCertificate;
  }
  return out;
}

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/**
 * Checks a peer's certificate chain after a TLS handshake and returns its SPIFFE ID: the chain
 * must link, by signature, from the leaf through CA intermediates to one of `roots`, every
 * certificate must be within its validity, the leaf must not be a CA and must carry the expected
 * EKU, and its single URI SAN must be a well-formed SPIFFE ID. Never throws.
 */
export function verifyPeerChain(chain: PeerChain, roots: readonly X509Certificate[], opts: VerifyPeerChainOptions = {}): Result<string> {
  let certs: X509Certificate[];
  try {
    certs = toChain(chain);
  } catch (e) {
    return fail([`peer chain does not parse: ${e instanceof Error ? e.message : String(e)}`]);
  }
  const leaf = certs[0];
  if (!leaf) return fail(['peer presented no certificate']);
  const now = (opts.now ?? new Date()).getTime();
  const facts = readCertificate(leaf.raw);
  if (!facts.ok) return facts;
  if (facts.value.isCa) return fail(['peer leaf certificate is a CA']);
  const eku = facts.value.extKeyUsage;
  const wanted = opts.usage === 'server' ? [OID.serverAuth] : opts.usage === 'client' ? [OID.clientAuth] : [OID.serverAuth, OID.clientAuth];
  if (!wanted.some((o) => eku.includes(o))) return fail([`peer leaf lacks extended key usage ${opts.usage ?? 'serverAuth or clientAuth'}`]);

  const rootPrints = new Set(roots.map((r) => r.fingerprint256));
  let current = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (!validAt(current, now)) return fail([`certificate "${current.subject}" is expired or not yet valid`]);
    if (rootPrints.has(current.fingerprint256)) return spiffeIdFromCertificate(leaf);
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) {
      if (!validAt(root, now)) return fail(['root certificate is expired or not yet valid']);
      return spiffeIdFromCertificate(leaf);
    }
    const parent = certs.find((c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey));
    if (!parent) return fail([`certificate "${current.subject || '(empty subject)'}" does not chain to a trusted root`]);
    if (!parent.ca) return fail([`issuer "${parent.subject}" is not a CA`]);
    current = parent;
  }
  return fail(['peer chain is too long']);
}
