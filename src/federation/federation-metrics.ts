import { Gauge, type Registry } from '../common/prom.ts';
import type { FederationHandle } from './federation-controller.ts';

/**
 * Trust metrics of a federation controller, read from its status at each scrape:
 * - `meshfed_federation_peer_untrusted{peer}`: 1 for each peer cluster refused for its trust
 *   bundle (none published, or no root shared with the local bundle); the reason is in the log
 *   and in `/debug/federationz` (`untrustedReasons`);
 * - `meshfed_federation_trust_bundle_roots`: how many roots the published local bundle holds (2
 *   during a root rotation; 0 until the controller has published).
 * `handle` is read per scrape, since the controller may start after the metrics port opens.
 */
export function registerFederationTrustMetrics(registry: Registry, handle: () => Pick<FederationHandle, 'status'> | undefined): void {
  new Gauge({
    name: 'meshfed_federation_peer_untrusted',
    help: 'Peer clusters refused for their trust bundle (1 each; the reason is logged and in /debug/federationz)',
    labelNames: ['peer'],
    registers: [registry],
    collect() {
      this.reset();
      for (const peer of handle()?.status().untrusted ?? []) this.set({ peer }, 1);
    },
  });
  new Gauge({
    name: 'meshfed_federation_trust_bundle_roots',
    help: 'Roots in the trust bundle this cluster publishes (2 during a root rotation)',
    registers: [registry],
    collect() {
      const h = handle();
      if (h) this.set(h.status().rootFingerprints.length);
    },
  });
}
