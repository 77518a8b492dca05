import { Counter, Gauge, type Registry } from './prom.ts';

/**
 * Certificate health of one process, in its own registry (sidecar, gateway, control plane,
 * Citadel, Mixer):
 * - `istio_agent_cert_expiry_seconds{resource_name}` — Istio's agent gauge: seconds until the
 *   certificate in use expires, read at scrape time (it falls while renewals fail; negative once
 *   expired). `resource_name` says which: `default` (the workload certificate, Istio's SDS name)
 *   or `serving` (a control-plane component's serving certificate);
 * - `meshfed_cert_renewal_failures_total{resource_name}` — failed renewal attempts (each retry
 *   counts), the alert's input together with the gauge.
 * One instance per registry; `track` once per resource.
 */
export class CertificateMetrics {
  readonly #failures: Counter<'resource_name'>;
  readonly #tracked = new Map<string, () => Date | undefined>();

  constructor(registry: Registry, now: () => number = Date.now) {
    const tracked = this.#tracked;
    // Registered for its scrape-time collect(); nothing else holds it.
    new Gauge({
      name: 'istio_agent_cert_expiry_seconds',
      help: 'Seconds until the certificate in use expires',
      labelNames: ['resource_name'],
      registers: [registry],
      collect() {
        for (const [resource, notAfter] of tracked) {
          const at = notAfter();
          if (at !== undefined) this.set({ resource_name: resource }, (at.getTime() - now()) / 1000);
        }
      },
    });
    this.#failures = new Counter({
      name: 'meshfed_cert_renewal_failures_total',
      help: 'Failed certificate renewal attempts (each retry counts)',
      labelNames: ['resource_name'],
      registers: [registry],
    });
  }

  /** Exposes the expiry of the certificate `notAfter` returns (undefined: none yet) as `resource`. */
  track(resource: string, notAfter: () => Date | undefined): void {
    this.#tracked.set(resource, notAfter);
    this.#failures.inc({ resource_name: resource }, 0);
  }

  renewalFailed(resource: string): void {
    this.#failures.inc({ resource_name: resource });
  }
}
