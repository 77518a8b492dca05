import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  type Asn1,
  bits,
  bool,
  bytesOf,
  children,
  explicit,
  fromDer,
  implicitConstructed,
  implicitPrimitive,
  nul,
  OID,
  octets,
  oid,
  seq,
  set,
  smallInteger,
  time,
  toDer,
  unsignedInteger,
  utf8,
} from './der.ts';

/**
 * Builds X.509 certificates and PKCS#10 requests: structure with node-forge's ASN.1 module,
 * signatures with Node's native crypto (forge's JavaScript RSA is ~70× slower, and it has no
 * ECDSA at all). Internal to Citadel.
 */

/** A subjectAltName entry. */
export type GeneralName = { type: 'uri'; value: string } | { type: 'dns'; value: string } | { type: 'ip'; value: string };

export interface NameParts {
  commonName?: string;
  organization?: string;
}

/** DER of an X.501 Name with O then CN (either may be absent; both absent gives the empty Name). */
export function encodeName(parts: NameParts): Buffer {
  const rdns: Asn1[] = [];
  if (parts.organization !== undefined) rdns.push(set([seq([oid(OID.organization), utf8(parts.organization)])]));
  if (parts.commonName !== undefined) rdns.push(set([seq([oid(OID.commonName), utf8(parts.commonName)])]));
  return toDer(seq(rdns));
}

/** The AlgorithmIdentifier and the native digest for signing with this key. */
function signatureAlgorithm(key: KeyObject): Asn1 {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return seq([oid(OID.ecdsaWithSha256)]);
    case 'rsa':
      return seq([oid(OID.sha256WithRsa), nul()]);
    default:
      throw new TypeError(`unsupported signing key type ${String(key.asymmetricKeyType)}`);
  }
}

/** Signs `tbs` natively and wraps it as SEQUENCE { tbs, algorithm, BIT STRING signature }. */
function signed(tbs: Asn1, key: KeyObject): Buffer {
  const tbsDer = toDer(tbs);
  const signature = sign('sha256', tbsDer, key);
  return toDer(seq([tbs, signatureAlgorithm(key), bits(0, signature)]));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spkiDer: Buffer): Buffer {
  const keyBits = bytesOf(children(fromDer(spkiDer))[1]).subarray(1);
  return createHash('sha1').update(keyBits).digest();
}

function encodeGeneralName(n: GeneralName): Asn1 {
  switch (n.type) {
    case 'uri':
      return implicitPrimitive(6, Buffer.from(n.value, 'ascii'));
    case 'dns':
      return implicitPrimitive(2, Buffer.from(n.value, 'ascii'));
    case 'ip':
      return implicitPrimitive(7, ipBytes(n.value));
  }
}

function ipBytes(ip: string): Buffer {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and parse groups.
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) throw new TypeError(`invalid IP address ${ip}`);
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

function extension(id: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [oid(id)];
  if (critical) parts.push(bool(true));
  parts.push(octets(toDer(value)));
  return seq(parts);
}

export function sanExtension(names: GeneralName[], critical: boolean): Asn1 {
  return extension(OID.subjectAltName, critical, seq(names.map(encodeGeneralName)));
}

/** What to put in a certificate. All DER inputs are trusted to be well formed. */
export interface CertificateTemplate {
  /** DER of the subject Name (see encodeName). */
  subject: Buffer;
  /** DER of the issuer Name: byte-equal to the issuing certificate's subject. */
  issuer: Buffer;
  /** DER SubjectPublicKeyInfo of the certified key. */
  subjectPublicKey: Buffer;
  /** Key that signs: the issuer's private key (or the subject's own, for a self-signed root). */
  signingKey: KeyObject;
  /** DER SubjectPublicKeyInfo of the signer, for the authority key identifier. */
  issuerPublicKey: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** CA certificates get keyCertSign+cRLSign; leaves get digitalSignature+keyEncipherment. */
  ca: boolean;
  /** basicConstraints pathLenConstraint, CA only. */
  pathLength?: number;
  /** Extended key usage OIDs (leaves). */
  extKeyUsage?: string[];
  subjectAltNames?: GeneralName[];
}

/** 16 random bytes with the top bit cleared and the next set: positive, minimal, 127 bits of entropy. */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b;
}

/** Builds and signs an X.509 v3 certificate; returns its DER. */
export function buildCertificate(t: CertificateTemplate): Buffer {
  const emptySubject = toDer(seq([])).equals(t.subject);
  const exts: Asn1[] = [
    extension(
      OID.basicConstraints,
      true,
      seq(t.ca ? [bool(true), ...(t.pathLength !== undefined ? [smallInteger(t.pathLength)] : [])] : []),
    ),
    // keyUsage bits: digitalSignature(0) keyEncipherment(2) keyCertSign(5) cRLSign(6).
    extension(OID.keyUsage, true, t.ca ? bits(1, Buffer.from([0x86])) : bits(5, Buffer.from([0xa0]))),
  ];
  if (t.extKeyUsage && t.extKeyUsage.length > 0) {
    exts.push(extension(OID.extKeyUsage, false, seq(t.extKeyUsage.map(oid))));
  }
  exts.push(extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(t.subjectPublicKey))));
  exts.push(extension(OID.authorityKeyIdentifier, false, seq([implicitPrimitive(0, keyIdentifier(t.issuerPublicKey))])));
  if (t.subjectAltNames && t.subjectAltNames.length > 0) {
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
    exts.push(sanExtension(t.subjectAltNames, emptySubject));
  }
  const tbs = seq([
    explicit(0, smallInteger(2)),
    unsignedInteger(randomSerial()),
    signatureAlgorithm(t.signingKey),
    fromDer(t.issuer),
    seq([time(t.notBefore), time(t.notAfter)]),
    fromDer(t.subject),
    fromDer(t.subjectPublicKey),
    explicit(3, seq(exts)),
  ]);
  return signed(tbs, t.signingKey);
}

/** Builds and signs a PKCS#10 CSR with an optional SAN extension request; returns its DER. */
export function buildCsr(opts: { subject: Buffer; publicKey: Buffer; privateKey: KeyObject; subjectAltNames?: GeneralName[] }): Buffer {
  const attributes: Asn1[] = [];
  if (opts.subjectAltNames && opts.subjectAltNames.length > 0) {
    const emptySubject = toDer(seq([])).equals(opts.subject);
    attributes.push(seq([oid(OID.extensionRequest), set([seq([sanExtension(opts.subjectAltNames, emptySubject)])])]));
  }
  const info = seq([smallInteger(0), fromDer(opts.subject), fromDer(opts.publicKey), implicitConstructed(0, attributes)]);
  return signed(info, opts.privateKey);
}
