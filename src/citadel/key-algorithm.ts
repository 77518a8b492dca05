import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * Key algorithms Citadel and workloads use. ECDSA P-256 (ECDSA-SHA256 signatures) is the default:
 * Node signs with it far faster than with RSA-2048 (bench/citadel-signing.ts), and its keys generate
 * in well under a millisecond. RSA-2048 is the option for peers that need RSA (Istio's agent
 * default before `ECC_SIGNATURE_ALGORITHM=ECDSA`).
 */
export const KEY_ALGORITHMS = ['ecdsa-p256', 'rsa-2048'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ecdsa-p256';

export function isKeyAlgorithm(v: string): v is KeyAlgorithm {
  return (KEY_ALGORITHMS as readonly string[]).includes(v);
}

/** A fresh key pair of `algorithm`, with its SubjectPublicKeyInfo in DER. */
export function generateKeyPair(algorithm: KeyAlgorithm): { privateKey: KeyObject; publicKeyDer: Buffer } {
  const { privateKey, publicKey } =
    algorithm === 'rsa-2048'
      ? generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
      : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { privateKey, publicKeyDer: publicKey.export({ type: 'spki', format: 'der' }) };
}
