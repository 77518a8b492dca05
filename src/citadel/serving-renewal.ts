import { errorMessage } from '../common/errors.ts';
import type { CertificateMetrics } from '../common/cert-metrics.ts';
import type { Logger } from '../common/log.ts';
import type { ServingCertificate } from './ca-signer.ts';

/** Options of renewServingCertificate, checked once. */
export interface ServingRenewalOptions {
  /** Issues a fresh serving certificate (the cluster's CA signs it locally). */
  issue: () => ServingCertificate;
  /** Puts a new certificate in use (swap the server's secure context in place). */
  apply: (c: ServingCertificate) => void;
  /** What it serves, for logs (`15012`, `citadel`, `mixer`). */
  what: string;
  logger?: Logger;
  /** `istio_agent_cert_expiry_seconds{resource_name="serving"}` and renewal failures of this process. */
  metrics?: CertificateMetrics;
  /** First retry after a failed issue; doubles up to retryMaxMs. Defaults 1 s and 30 s. */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** A running renewal: the certificate in use, and stop() (idempotent). */
export interface ServingRenewal {
  current(): ServingCertificate;
  stop(): void;
}

/**
 * The one renewal scheduler of every serving certificate a control-plane process holds (the
 * control plane's 15012, a standalone Citadel's and Mixer's): the next renewal is due at half the
 * life the certificate in use has left, counted when it is scheduled, so time spent binding, or a
 * late timer, never lets it expire first (workload certificates follow the same rule in
 * CertificateRotator). A failed issue keeps the certificate in use, counts a renewal failure and
 * retries with exponential backoff. Timers never keep the process alive.
 */
export function renewServingCertificate(first: ServingCertificate, opts: ServingRenewalOptions): ServingRenewal {
  const retryInitialMs = opts.retryInitialMs ?? 1000;
  const retryMaxMs = opts.retryMaxMs ?? 30_000;
  if (!(retryInitialMs > 0) || !(retryMaxMs >= retryInitialMs)) throw new RangeError('invalid retryInitialMs / retryMaxMs');
  let current = first;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  opts.metrics?.track('serving', () => current.notAfter);
  const schedule = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(renew, Math.max(0, ms));
    timer.unref();
  };
  const halfLeft = (): number => (current.notAfter.getTime() - Date.now()) / 2;
  function renew(): void {
    if (stopped) return;
    try {
      const next = opts.issue();
      opts.apply(next);
      current = next;
      failures = 0;
      opts.logger?.info({ notAfter: next.notAfter.toISOString() }, `${opts.what} serving certificate renewed`);
      schedule(halfLeft());
    } catch (e: unknown) {
      const delay = Math.min(retryMaxMs, retryInitialMs * 2 ** failures);
      failures++;
      opts.metrics?.renewalFailed('serving');
      opts.logger?.warn({ err: errorMessage(e), retryInMs: delay, notAfter: current.notAfter.toISOString() }, `${opts.what} serving certificate renewal failed; keeping the current one`);
      schedule(delay);
    }
  }
  schedule(halfLeft());
  return {
    current: () => current,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
