import { createRequire } from 'node:module';
import type forgeTypes from 'node-forge';

/**
 * Thin typed helpers over node-forge's ASN.1 module. forge works on "binary strings" (one char
 * per byte); everything leaving this file is a Buffer. Internal to Citadel.
 *
 * Only forge's ASN.1 module (with the util and OID tables it needs) is loaded: the whole bundle
 * (ciphers, TLS, PKI) costs every process that builds a CSR about 9 MB of RSS for nothing.
 */
const requireForge = createRequire(import.meta.url);
requireForge('node-forge/lib/asn1.js');
const forge = requireForge('node-forge/lib/forge.js') as typeof forgeTypes;
const { asn1 } = forge;
export type Asn1 = forgeTypes.asn1.Asn1;
const U = asn1.Class.UNIVERSAL;
const C = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
} as const;

type FromDer = (bytes: string, options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean }) => Asn1;

/** Parses DER strictly (all bytes consumed); BIT STRINGs are left as raw bytes. Throws on bad input. */
export function fromDer(der: Buffer): Asn1 {
  return (asn1.fromDer as unknown as FromDer)(der.toString('binary'), {
    strict: true,
    parseAllBytes: true,
    decodeBitStrings: false,
  });
}

export function toDer(node: Asn1): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

export function bin(buf: Buffer): string {
  return buf.toString('binary');
}

export const seq = (items: Asn1[]): Asn1 => asn1.create(U, T.SEQUENCE, true, items);
export const set = (items: Asn1[]): Asn1 => asn1.create(U, T.SET, true, items);
export const oid = (dotted: string): Asn1 => asn1.create(U, T.OID, false, asn1.oidToDer(dotted).getBytes());
export const bool = (v: boolean): Asn1 => asn1.create(U, T.BOOLEAN, false, v ? '\xff' : '\x00');
export const octets = (b: Buffer): Asn1 => asn1.create(U, T.OCTETSTRING, false, bin(b));
export const utf8 = (s: string): Asn1 => asn1.create(U, T.UTF8, false, forge.util.encodeUtf8(s));
export const nul = (): Asn1 => asn1.create(U, T.NULL, false, '');
/** A BIT STRING whose first content byte is the count of unused trailing bits. */
export const bits = (unused: number, b: Buffer): Asn1 => asn1.create(U, T.BITSTRING, false, String.fromCharCode(unused) + bin(b));
/** [n] EXPLICIT wrapper. */
export const explicit = (n: number, inner: Asn1): Asn1 => asn1.create(C, n, true, [inner]);
/** [n] IMPLICIT primitive (e.g. GeneralName uri [6], dNSName [2], iPAddress [7], keyIdentifier [0]). */
export const implicitPrimitive = (n: number, b: Buffer): Asn1 => asn1.create(C, n, false, bin(b));
export const implicitConstructed = (n: number, items: Asn1[]): Asn1 => asn1.create(C, n, true, items);

/** A non-negative INTEGER from big-endian magnitude bytes, minimally encoded. */
export function unsignedInteger(magnitude: Buffer): Asn1 {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  let b = magnitude.subarray(i);
  if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  if (b.length === 0) b = Buffer.from([0]);
  return asn1.create(U, T.INTEGER, false, bin(b));
}

export const smallInteger = (n: number): Asn1 => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). Milliseconds are dropped. */
export function time(d: Date): Asn1 {
  const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
  return whole.getUTCFullYear() < 2050
    ? asn1.create(U, T.UTCTIME, false, asn1.dateToUtcTime(whole))
    : asn1.create(U, T.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(whole));
}

// --- reading ---

export function children(node: Asn1 | undefined): Asn1[] {
  return node && Array.isArray(node.value) ? node.value : [];
}

export function bytesOf(node: Asn1 | undefined): Buffer {
  return node && typeof node.value === 'string' ? Buffer.from(node.value, 'binary') : Buffer.alloc(0);
}

export function isUniversal(node: Asn1 | undefined, type: forgeTypes.asn1.Type): node is Asn1 {
  return node !== undefined && node.tagClass === U && node.type === type;
}

export function isContext(node: Asn1 | undefined, n: number): node is Asn1 {
  return node !== undefined && node.tagClass === C && node.type === n;
}

export function oidOf(node: Asn1 | undefined): string | undefined {
  return isUniversal(node, T.OID) && typeof node.value === 'string' ? asn1.derToOid(node.value) : undefined;
}

export function boolOf(node: Asn1 | undefined): boolean | undefined {
  return isUniversal(node, T.BOOLEAN) ? bytesOf(node)[0] !== 0 : undefined;
}

export { T as Asn1Type };

/**
 * Splits a DER SEQUENCE into the exact encoded bytes of its direct children, without re-encoding,
 * so that signatures over a child (TBSCertificate, CertificationRequestInfo) check the original
 * bytes. Returns undefined when the input is not one well-formed definite-length SEQUENCE.
 */
export function rawChildren(der: Buffer): Buffer[] | undefined {
  const outer = readTlv(der, 0);
  if (!outer || der[0] !== 0x30 || outer.end !== der.length) return undefined;
  const out: Buffer[] = [];
  let pos = outer.contentStart;
  while (pos < outer.end) {
    const child = readTlv(der, pos);
    if (!child || child.end > outer.end) return undefined;
    out.push(der.subarray(pos, child.end));
    pos = child.end;
  }
  return out;
}

function readTlv(der: Buffer, pos: number): { contentStart: number; end: number } | undefined {
  if (pos + 2 > der.length) return undefined;
  if (((der[pos] ?? 0) & 0x1f) === 0x1f) return undefined; // multi-byte tags never occur here
  const first = der[pos + 1] ?? 0;
  let len = first;
  let start = pos + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  const end = start + len;
  return end <= der.length ? { contentStart: start, end } : undefined;
}

/** PEM ⇄ DER for one block of the given label. */
export function derToPem(der: Buffer, label: string): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** All PEM blocks of the given label, in order. */
export function pemBlocks(pem: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`, 'g');
  return [...pem.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'));
}
