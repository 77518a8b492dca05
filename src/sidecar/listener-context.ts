import type { Logger } from '../common/log.ts';
import type { ProxyConfig } from '../xds/config-types.ts';
import type { AccessLogRecord } from './access-log.ts';
import type { CertBundle } from './cert-source.ts';
import type { EndpointPicker } from './load-balancer.ts';
import type { RequestLabels, SidecarTelemetry } from './telemetry.ts';

/** The workload a sidecar stands beside. */
export interface LocalWorkload {
  name: string;
  namespace: string;
  serviceAccount: string;
  cluster: string;
  /** The workload's own address; admin, health and metrics bind here. */
  address: string;
  labels: Record<string, string>;
}

/**
 * What the listeners read from their data plane on every request. `config()` and `certificate()`
 * return the current values, so a config change or rotation applies to the next request without
 * touching requests in flight.
 */
export interface ListenerContext {
  workload: LocalWorkload;
  config(): ProxyConfig;
  certificate(): CertBundle;
  telemetry: SidecarTelemetry;
  /** Receives one record per finished request (the access log streamer, when Mixer is set). */
  accessLog(record: AccessLogRecord): void;
  picker: EndpointPicker;
  random: () => number;
  logger: Logger;
  /** Our own `x-meshfed-peer-metadata` value. */
  peerMetadata: string;
}

/** Response header carrying Envoy-style response flags on local replies and failures. */
export const RESPONSE_FLAGS_HEADER = 'x-meshfed-response-flags';
/** Default route timeout (Envoy's), when the route sets none. */
export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;

export const UNKNOWN = 'unknown';

/** Labels with every field `unknown` and flags `-`, to be filled in by a listener. */
export function blankLabels(reporter: 'source' | 'destination'): RequestLabels {
  return {
    reporter,
    source_workload: UNKNOWN,
    source_workload_namespace: UNKNOWN,
    source_principal: UNKNOWN,
    source_cluster: UNKNOWN,
    destination_workload: UNKNOWN,
    destination_workload_namespace: UNKNOWN,
    destination_principal: UNKNOWN,
    destination_service: UNKNOWN,
    destination_service_name: UNKNOWN,
    destination_cluster: UNKNOWN,
    request_protocol: 'http',
    response_code: '0',
    response_flags: '-',
    connection_security_policy: 'none',
  };
}
