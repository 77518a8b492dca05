import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { type CertBundle, type RequestCertificateOptions, requestCertificate } from './certificate-client.ts';
import { CertificateRequestError, CitadelError } from './errors.ts';

/** Timers the rotator schedules with; injectable so tests can drive time. */
export interface RotatorClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realClock: RotatorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Options of CertificateRotator: where bundles come from (one of `fetch` / `request`), and timing. */
export interface CertificateRotatorOptions {
  /** Obtains a fresh bundle (whose `rootsPem` is its own: setRoots changes only `request`'s). Defaults to requestCertificate(request). */
  fetch?: () => Promise<CertBundle>;
  request?: RequestCertificateOptions;
  clock?: RotatorClock;
  logger?: Logger;
  /** Renew when this fraction of the life left at receipt has passed (Istio: 0.5). */
  renewRatio?: number;
  /** First retry delay after a failed renewal; doubles up to retryMaxMs. Defaults 1 s and 30 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** gRPC statuses that will not change by retrying the same request at startup. */
const PERMANENT = new Set<number>([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT]);

function isPermanent(e: unknown): boolean {
  if (e instanceof CertificateRequestError) return e.grpcCode !== undefined && PERMANENT.has(e.grpcCode);
  return e instanceof CitadelError; // a rejected answer (wrong identity, bad chain) is not transient
}

/**
 * Keeps a workload certificate fresh, as Istio's agent does: after each bundle arrives at time t,
 * renewal is scheduled at t + renewRatio × (notAfter − t) (half the life by default). A failed
 * renewal keeps the current bundle, retries with exponential backoff, logs, and emits 'error'
 * only if someone listens (so it never crashes the process).
 *
 * Events: 'rotated'(bundle) after each successful renewal (not for the first bundle) and after
 * `setRoots` (the same certificate with the new trust bundle); 'error'(err) on each failed renewal
 * attempt.
 *
 * Root rotation: `setRoots` replaces the trust bundle (the next requests verify Citadel and the
 * issued chain against it) and renews at once, so the workload certificate follows a new root
 * without waiting for half its life; `renewNow` renews at once after the CA changed its
 * intermediate.
 */
export class CertificateRotator extends EventEmitter<{ rotated: [CertBundle]; error: [Error] }> {
  readonly #fetch: () => Promise<CertBundle>;
  readonly #clock: RotatorClock;
  readonly #log: Logger;
  readonly #ratio: number;
  readonly #retryInitialMs: number;
  readonly #retryMaxMs: number;
  #bundle: CertBundle | undefined;
  /** The trust bundle of the next requests, when `request` is used; replaced by setRoots. */
  #request: RequestCertificateOptions | undefined;
  /** The renewal in flight, shared by renewNow callers. */
  #renewing: Promise<void> | undefined;
  #timer: unknown;
  #closed = false;
  #failures = 0;
  /** Ends start()'s backoff wait early when close() is called. */
  #wake: (() => void) | undefined;

  constructor(opts: CertificateRotatorOptions) {
    super();
    const request = opts.request;
    if (opts.fetch) this.#fetch = opts.fetch;
    else if (request) {
      this.#request = { ...request };
      this.#fetch = () => requestCertificate(this.#request ?? request);
    } else throw new TypeError('CertificateRotator needs fetch or request');
    const ratio = opts.renewRatio ?? 0.5;
    if (!(ratio > 0 && ratio < 1)) throw new TypeError('invalid renewRatio: expected 0 < ratio < 1');
    this.#ratio = ratio;
    this.#retryInitialMs = opts.retryInitialMs ?? 1000;
    this.#retryMaxMs = opts.retryMaxMs ?? 30_000;
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.logger ?? createLogger('cert-rotator');
  }

  /**
   * Obtains the first bundle and schedules renewals. Transient failures (Citadel unreachable) are
   * retried with backoff; permanent ones (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, a
   * rejected answer) and close() reject the promise.
   */
  async start(): Promise<CertBundle> {
    for (;;) {
      if (this.#closed) throw new CitadelError('ROTATOR_CLOSED', 'rotator closed before the first certificate');
      try {
        const bundle = await this.#fetch();
        if (this.#closed) throw new CitadelError('ROTATOR_CLOSED', 'rotator closed before the first certificate');
        this.#accept(bundle);
        return bundle;
      } catch (e) {
        if (this.#closed || isPermanent(e)) throw e;
        const delay = this.#nextBackoff();
        this.#log.warn({ err: errorMessage(e), retryInMs: delay }, 'first certificate request failed; retrying');
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          const timer: unknown = this.#clock.setTimeout(resolve, delay);
          // Someone awaits start(): its retry wait keeps the process alive (renewal timers do not).
          // Unref'd, a sidecar started before Citadel exited with an unsettled top-level await.
          if (typeof timer === 'object' && timer !== null && 'ref' in timer && typeof timer.ref === 'function') timer.ref();
          this.#timer = timer;
        });
        this.#wake = undefined;
      }
    }
  }

  /** The bundle in use. Throws if start() has not resolved yet (programmer error). */
  current(): CertBundle {
    if (!this.#bundle) throw new CitadelError('ROTATOR_NOT_STARTED', 'no certificate yet: await start() first');
    return this.#bundle;
  }

  /**
   * Replaces the trust bundle (a root rotation): emits 'rotated' with the current certificate and
   * the new bundle, so new sessions verify peers against it, then renews at once (the result
   * arrives as another 'rotated', or as 'error' with the usual backoff). No-op when unchanged,
   * closed, or before start() resolved.
   */
  setRoots(rootsPem: string): Promise<void> {
    const bundle = this.#bundle;
    if (this.#closed || !bundle || bundle.rootsPem === rootsPem) return Promise.resolve();
    if (this.#request) this.#request = { ...this.#request, rootsPem };
    this.#bundle = { ...bundle, rootsPem };
    this.#log.info('trust bundle replaced; renewing the certificate');
    this.emit('rotated', this.#bundle);
    return this.renewNow();
  }

  /**
   * Renews now instead of at the scheduled time (the CA's intermediate changed). Resolves when the
   * attempt is over, whatever its outcome; concurrent calls share one attempt.
   */
  renewNow(): Promise<void> {
    if (this.#closed || !this.#bundle) return Promise.resolve();
    if (this.#renewing) return this.#renewing;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#renew();
  }

  /** Stops renewing. Idempotent; an in-flight request's result is discarded. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake?.();
  }

  #accept(bundle: CertBundle): void {
    this.#bundle = bundle;
    this.#failures = 0;
    const receivedAt = this.#clock.now();
    const renewAt = receivedAt + (bundle.notAfter.getTime() - receivedAt) * this.#ratio;
    this.#schedule(Math.max(0, renewAt - receivedAt));
    this.#log.debug({ spiffeId: bundle.spiffeId, notAfter: bundle.notAfter.toISOString(), renewAt: new Date(renewAt).toISOString() }, 'certificate accepted');
  }

  #schedule(delayMs: number): void {
    if (this.#closed) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = this.#clock.setTimeout(() => void this.#renew(), delayMs);
  }

  #nextBackoff(): number {
    const delay = Math.min(this.#retryMaxMs, this.#retryInitialMs * 2 ** this.#failures);
    this.#failures++;
    return delay;
  }

  #renew(): Promise<void> {
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  async #renewOnce(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    try {
      const bundle = await this.#fetch();
      if (this.#closed) return;
      this.#accept(bundle);
      this.#log.info({ spiffeId: bundle.spiffeId, notAfter: bundle.notAfter.toISOString() }, 'certificate rotated');
      this.emit('rotated', bundle);
    } catch (e) {
      if (this.#closed) return;
      const err = e instanceof Error ? e : new Error(String(e));
      const delay = this.#nextBackoff();
      this.#log.warn({ err: err.message, retryInMs: delay, currentNotAfter: this.#bundle?.notAfter.toISOString() }, 'certificate renewal failed; keeping current certificate');
      this.#schedule(delay);
      if (this.listenerCount('error') > 0) {
        try {
          this.emit('error', err);
        } catch (listenerError) {
          this.#log.error({ err: errorMessage(listenerError) }, "an 'error' listener threw");
        }
      }
    }
  }
}
