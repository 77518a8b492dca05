import { type KeyObject, verify } from 'node:crypto';
import { fail, ok, type Result } from '../common/result.ts';
import { type Asn1, Asn1Type, boolOf, bytesOf, children, fromDer, isContext, isUniversal, OID, oidOf, rawChildren, toDer } from './der.ts';
import { publicKeyFromSpki } from './spki-key.ts';
import type { GeneralName } from './x509-build.ts';

/** A SAN entry as read: the kinds Citadel issues, or any other kind by its context tag. */
export type ReadGeneralName = GeneralName | { type: 'other'; tag: number };

/** The parts of a certificate Citadel checks. */
export interface CertificateFacts {
  subjectAltNames: ReadGeneralName[];
  /** Extended key usage OIDs; empty when the extension is absent. */
  extKeyUsage: string[];
  /** basicConstraints cA. */
  isCa: boolean;
  /** DER of the subject Name, used as the issuer of certificates this one signs. */
  subject: Buffer;
}

function ipToString(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function readGeneralNames(node: Asn1): ReadGeneralName[] {
  return children(node).map((n): ReadGeneralName => {
    if (isContext(n, 6) && !n.constructed) return { type: 'uri', value: bytesOf(n).toString('latin1') };
    if (isContext(n, 2) && !n.constructed) return { type: 'dns', value: bytesOf(n).toString('latin1') };
    if (isContext(n, 7) && !n.constructed) return { type: 'ip', value: ipToString(bytesOf(n)) };
    return { type: 'other', tag: n.type };
  });
}

/** Extensions as (oid → inner DER value), from a SEQUENCE OF Extension. */
function readExtensions(extSeq: Asn1 | undefined): Map<string, Asn1> {
  const out = new Map<string, Asn1>();
  for (const ext of children(extSeq)) {
    const parts = children(ext);
    const id = oidOf(parts[0]);
    const value = parts[parts.length - 1];
    if (id === undefined || !isUniversal(value, Asn1Type.OCTETSTRING)) throw new TypeError('malformed extension');
    if (out.has(id)) throw new TypeError(`duplicate extension ${id}`);
    out.set(id, fromDer(bytesOf(value)));
  }
  return out;
}

function factsFromExtensions(exts: Map<string, Asn1>): Omit<CertificateFacts, 'subject'> {
  const san = exts.get(OID.subjectAltName);
  const eku = exts.get(OID.extKeyUsage);
  const bc = exts.get(OID.basicConstraints);
  return {
    subjectAltNames: san ? readGeneralNames(san) : [],
    extKeyUsage: children(eku)
      .map(oidOf)
      .filter((o): o is string => o !== undefined),
    isCa: boolOf(children(bc)[0]) === true,
  };
}

/** Reads the facts Citadel needs from a DER certificate. Never throws. */
export function readCertificate(der: Buffer): Result<CertificateFacts> {
  try {
    const tbs = children(fromDer(der))[0];
    const fields = children(tbs);
    const base = isContext(fields[0], 0) ? 1 : 0;
    const subject = fields[base + 4];
    if (!subject) return fail(['certificate has no subject']);
    const extWrapper = fields.slice(base + 6).find((f) => isContext(f, 3));
    const exts = readExtensions(children(extWrapper)[0]);
    return ok({ ...factsFromExtensions(exts), subject: toDer(subject) });
  } catch (e) {
    return fail([`certificate does not parse: ${e instanceof Error ? e.message : String(e)}`]);
  }
}

/** A PKCS#10 request whose own signature has been verified. */
export interface VerifiedCsr {
  publicKey: KeyObject;
  /** DER SubjectPublicKeyInfo, as in the request. */
  publicKeyDer: Buffer;
  /** SANs requested through the extensionRequest attribute (empty if none). */
  subjectAltNames: ReadGeneralName[];
}

const SIGNATURE_DIGESTS: Record<string, string> = {
  [OID.ecdsaWithSha256]: 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  [OID.sha256WithRsa]: 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
};

/**
 * Parses a DER CSR and verifies its self-signature over the original CertificationRequestInfo
 * bytes (proof of possession). Returns every problem as an error string; never throws.
 */
export function readCsr(der: Buffer): Result<VerifiedCsr> {
  try {
    const raw = rawChildren(der);
    if (!raw || raw.length !== 3) return fail(['CSR is not a DER SEQUENCE of three elements']);
    const [infoDer, , ] = raw as [Buffer, Buffer, Buffer];
    const top = children(fromDer(der));
    const info = children(top[0]);
    const algorithm = oidOf(children(top[1])[0]);
    const sigNode = top[2];
    if (!isUniversal(sigNode, Asn1Type.BITSTRING)) return fail(['CSR signature is not a BIT STRING']);
    const sigBits = bytesOf(sigNode);
    if (sigBits[0] !== 0) return fail(['CSR signature has unused bits']);
    const digest = algorithm === undefined ? undefined : SIGNATURE_DIGESTS[algorithm];
    if (digest === undefined) return fail([`CSR signature algorithm ${algorithm ?? '?'} is not supported`]);
    if (info.length !== 4 || bytesOf(info[0]).length !== 1 || bytesOf(info[0])[0] !== 0) {
      return fail(['CSR is not a version 1 (0) CertificationRequestInfo']);
    }
    const spki = info[2];
    if (!spki) return fail(['CSR has no public key']);
    const publicKeyDer = toDer(spki);
    const publicKey = publicKeyFromSpki(spki, publicKeyDer);
    if (!verify(digest, infoDer, publicKey, sigBits.subarray(1))) return fail(['CSR signature does not verify']);
    let subjectAltNames: ReadGeneralName[] = [];
    for (const attr of children(info[3])) {
      const [type, values] = children(attr);
      if (oidOf(type) !== OID.extensionRequest) continue;
      const exts = readExtensions(children(values)[0]);
      subjectAltNames = subjectAltNames.concat(factsFromExtensions(exts).subjectAltNames);
    }
    return ok({ publicKey, publicKeyDer, subjectAltNames });
  } catch (e) {
    return fail([`CSR does not parse: ${e instanceof Error ? e.message : String(e)}`]);
  }
}
