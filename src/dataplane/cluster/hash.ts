/**
 * xxHash64 (the hash Envoy's ring hash and Maglev use, `hash_function: XX_HASH`), over UTF-8 text
 * or bytes, as an unsigned 64-bit bigint. Deterministic across processes and platforms.
 */

const M64 = 0xffff_ffff_ffff_ffffn;
const P1 = 11400714785074694791n;
const P2 = 14029467366897019727n;
const P3 = 1609587929392839161n;
const P4 = 9650029242287828579n;
const P5 = 2870177450012600261n;
const encoder = new TextEncoder();

function rotl(x: bigint, r: bigint): bigint {
  return ((x << r) | (x >> (64n - r))) & M64;
}

function round(acc: bigint, input: bigint): bigint {
  return (rotl((acc + input * P2) & M64, 31n) * P1) & M64;
}

function merge(acc: bigint, v: bigint): bigint {
  return (((acc ^ round(0n, v)) * P1) + P4) & M64;
}

function u64(b: Uint8Array, i: number): bigint {
  const lo = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  const hi = (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)) >>> 0;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function u32(b: Uint8Array, i: number): bigint {
  return BigInt((b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0);
}

export function xxHash64(input: string | Uint8Array, seed = 0n): bigint {
  const b = typeof input === 'string' ? encoder.encode(input) : input;
  const len = b.length;
  let i = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M64;
    let v2 = (seed + P2) & M64;
    let v3 = seed & M64;
    let v4 = (seed - P1) & M64;
    while (i + 32 <= len) {
      v1 = round(v1, u64(b, i));
      v2 = round(v2, u64(b, i + 8));
      v3 = round(v3, u64(b, i + 16));
      v4 = round(v4, u64(b, i + 24));
      i += 32;
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M64;
    h = merge(h, v1);
    h = merge(h, v2);
    h = merge(h, v3);
    h = merge(h, v4);
  } else {
    h = (seed + P5) & M64;
  }
  h = (h + BigInt(len)) & M64;
  while (i + 8 <= len) {
    h ^= round(0n, u64(b, i));
    h = ((rotl(h, 27n) * P1) + P4) & M64;
    i += 8;
  }
  if (i + 4 <= len) {
    h ^= (u32(b, i) * P1) & M64;
    h = ((rotl(h, 23n) * P2) + P3) & M64;
    i += 4;
  }
  while (i < len) {
    h ^= (BigInt(b[i]!) * P5) & M64;
    h = (rotl(h, 11n) * P1) & M64;
    i++;
  }
  h ^= h >> 33n;
  h = (h * P2) & M64;
  h ^= h >> 29n;
  h = (h * P3) & M64;
  h ^= h >> 32n;
  return h;
}

/** Combines hashes of several hash policies the way Envoy does: rotate left by one, then xor. */
export function combineHashes(acc: bigint | undefined, next: bigint): bigint {
  if (acc === undefined) return next;
  return (((acc << 1n) | (acc >> 63n)) & M64) ^ next;
}
