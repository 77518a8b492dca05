import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import type { CertBundle } from '../citadel/certificate-client.ts';
import { chainRootFingerprint, rootFingerprints } from '../citadel/trust-bundle.ts';

export type { CertBundle };

/**
 * Where the data plane gets its certificate. Contract: `current()` returns the material to use now
 * (it never changes under a session already established); `'rotated'` fires with the new bundle
 * after a renewal, and the data plane then swaps the inbound secure context and uses the new
 * material for new outbound sessions; `'error'` fires on each failed renewal attempt (the
 * current bundle stays in use). Citadel's CertificateRotator satisfies it.
 */
export interface CertificateSource {
  current(): CertBundle;
  on(event: 'rotated', listener: (bundle: CertBundle) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'rotated', listener: (bundle: CertBundle) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  /** Renews the certificate now (the CA's intermediate changed); resolves when the attempt is over. */
  renewNow?(): Promise<void>;
}

/** A CertificateSource whose bundle is set by hand (tests, or material obtained elsewhere). */
export class StaticCertificateSource extends EventEmitter implements CertificateSource {
  #bundle: CertBundle;

  constructor(bundle: CertBundle) {
    super();
    this.#bundle = bundle;
  }

  current(): CertBundle {
    return this.#bundle;
  }

  /** Replaces the bundle and emits `'rotated'`. */
  rotate(bundle: CertBundle): void {
    this.#bundle = bundle;
    this.emit('rotated', bundle);
  }
}

/** What /config_dump shows of a bundle. */
export interface CertificateInfo {
  spiffeId: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** SHA-256 fingerprints of the trust bundle's roots, as peers are verified against them now. */
  rootFingerprints: string[];
  /** Fingerprint of the bundle root the certificate's chain reaches, or null when it reaches none. */
  chainRoot: string | null;
}

/** The leaf certificate of a bundle, or undefined if the PEM does not parse. */
export function leafOf(bundle: CertBundle): X509Certificate | undefined {
  try {
    return new X509Certificate(bundle.certChainPem);
  } catch {
    return undefined;
  }
}

export function certificateInfo(bundle: CertBundle): CertificateInfo {
  return {
    spiffeId: bundle.spiffeId,
    serial: leafOf(bundle)?.serialNumber ?? '',
    notBefore: bundle.notBefore.toISOString(),
    notAfter: bundle.notAfter.toISOString(),
    rootFingerprints: rootFingerprints(bundle.rootsPem),
    chainRoot: chainRootFingerprint(bundle.certChainPem, bundle.rootsPem) ?? null,
  };
}
