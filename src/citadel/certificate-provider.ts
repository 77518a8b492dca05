import type { experimental } from '@grpc/grpc-js';

/** A certificate and its key, PEM. */
export interface IdentityPem {
  certChainPem: string;
  privateKeyPem: string;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/**
 * An in-memory grpc-js CertificateProvider: the current identity (certificate chain and key) and
 * the trust bundle (roots), both replaceable at any time. grpc-js servers built on it
 * (`experimental.createCertificateProviderServerCredentials`) swap their secure context in place
 * (`setSecureContext`): open connections stay up, new handshakes use the new material. Channels
 * built on it (`createCertificateProviderChannelCredentials`) present the new certificate on their
 * next connection.
 *
 * Contract: a listener added after a value was set gets it on the next tick (grpc-js registers
 * its own watcher only after adding the listener, so a synchronous call would be lost);
 * `setIdentity`/`setRoots` notify every listener synchronously. Never throws on update (grpc-js logs a secure context it cannot
 * build and refuses new connections until the next valid update).
 */
export class MemoryCertificateProvider implements experimental.CertificateProvider {
  #identity: IdentityPem | undefined;
  #rootsPem: string | undefined;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(initial: { identity?: IdentityPem; rootsPem?: string } = {}) {
    this.#identity = initial.identity;
    this.#rootsPem = initial.rootsPem;
  }

  /** The identity in use, or undefined before the first. */
  identity(): IdentityPem | undefined {
    return this.#identity;
  }

  setIdentity(identity: IdentityPem): void {
    this.#identity = identity;
    const update = this.#identityUpdate();
    for (const l of this.#identityListeners) l(update);
  }

  setRoots(rootsPem: string): void {
    this.#rootsPem = rootsPem;
    const update = this.#caUpdate();
    for (const l of this.#caListeners) l(update);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    process.nextTick(() => {
      if (this.#caListeners.has(listener) && this.#rootsPem !== undefined) listener(this.#caUpdate());
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    process.nextTick(() => {
      if (this.#identityListeners.has(listener) && this.#identity !== undefined) listener(this.#identityUpdate());
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  #caUpdate(): experimental.CaCertificateUpdate | null {
    return this.#rootsPem === undefined ? null : { caCertificate: Buffer.from(this.#rootsPem) };
  }

  #identityUpdate(): experimental.IdentityCertificateUpdate | null {
    const i = this.#identity;
    return i === undefined ? null : { certificate: Buffer.from(i.certChainPem), privateKey: Buffer.from(i.privateKeyPem) };
  }
}
