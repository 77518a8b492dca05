import { Counter, Gauge, Histogram, type Registry } from '../../common/prom.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import type { AdsMetrics } from '../ads/push-interface.ts';

const SHORT: Record<XdsTypeUrl, string> = {
  [TYPE_URL.cluster]: 'cds',
  [TYPE_URL.endpoint]: 'eds',
  [TYPE_URL.listener]: 'lds',
  [TYPE_URL.route]: 'rds',
};

/**
 * Pilot's Prometheus metrics under Istio's names, registered on `registry`:
 * `pilot_xds` (connected proxies), `pilot_xds_pushes{type="cds|eds|lds|rds"}` (responses sent by
 * pushes), `pilot_xds_push_time` (seconds per stream push) and `pilot_proxy_convergence_time`
 * (seconds from a registry or config change to the proxy's answer to the last response of its push).
 * `also` sees every observation too (benchmarks).
 */
export function discoveryMetrics(registry: Registry, connected: () => number, also?: AdsMetrics): AdsMetrics {
  new Gauge({
    name: 'pilot_xds',
    help: 'Number of endpoints connected to this pilot using XDS.',
    registers: [registry],
    collect() {
      this.set(connected());
    },
  });
  const pushes = new Counter({
    name: 'pilot_xds_pushes',
    help: 'Pilot build and send errors for lds, rds, cds and eds.',
    labelNames: ['type'],
    registers: [registry],
  });
  const pushTime = new Histogram({
    name: 'pilot_xds_push_time',
    help: 'Total time in seconds Pilot takes to push lds, rds, cds and eds.',
    buckets: [0.01, 0.1, 0.5, 1, 3, 5],
    registers: [registry],
  });
  const convergence = new Histogram({
    name: 'pilot_proxy_convergence_time',
    help: 'Delay in seconds between config change and a proxy receiving all required configuration.',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 3, 5, 10, 20, 30],
    registers: [registry],
  });
  return {
    pushed(typeUrl) {
      pushes.inc({ type: SHORT[typeUrl] });
      also?.pushed(typeUrl);
    },
    pushTime(seconds) {
      pushTime.observe(seconds);
      also?.pushTime(seconds);
    },
    converged(seconds, node) {
      convergence.observe(seconds);
      also?.converged(seconds, node);
    },
  };
}

/**
 * istiod's JWKS resolver counters, `pilot_jwks_resolver_network_fetch_success_total` and
 * `pilot_jwks_resolver_network_fetch_fail_total`, as the resolver's `onFetch`.
 */
export function jwksFetchMetrics(registry: Registry): (ok: boolean) => void {
  const success = new Counter({
    name: 'pilot_jwks_resolver_network_fetch_success_total',
    help: 'Total number of successfully network fetch by pilot jwks resolver',
    registers: [registry],
  });
  const failure = new Counter({
    name: 'pilot_jwks_resolver_network_fetch_fail_total',
    help: 'Total number of failed network fetch by pilot jwks resolver',
    registers: [registry],
  });
  return (ok) => (ok ? success : failure).inc();
}
