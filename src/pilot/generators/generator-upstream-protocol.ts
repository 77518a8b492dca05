import { type Cluster, HTTP_PROTOCOL_OPTIONS_KEY } from '../../xds/resources.ts';
import { TYPED_CONFIG } from '../../xds/type-urls.ts';
import type { ServiceProtocol } from '../../common/service-protocol.ts';
import type { Snapshot } from '../model/snapshot.ts';

/**
 * Service-port protocols whose workloads are spoken to in HTTP/2 (Istio: `http2-` and `grpc-`
 * ports). grpc-web stays HTTP/1.1: meshfed has no grpc_web filter to translate it.
 */
const HTTP2_PROTOCOLS: ReadonlySet<ServiceProtocol> = new Set<ServiceProtocol>(['http2', 'grpc']);

/** True when the service's port is declared http2 or grpc (unknown ports: false, HTTP/1.1). */
export function portSpeaksHttp2(snap: Snapshot, hostname: string, port: number): boolean {
  const p = snap.services.get(hostname)?.ports.find((sp) => sp.port === port);
  return p !== undefined && HTTP2_PROTOCOLS.has(p.protocol);
}

/**
 * Sets the cluster's upstream protocol to HTTP/2 (Envoy's `HttpProtocolOptions` with an explicit
 * `http2_protocol_options`, as Istio writes for http2 and grpc ports), in place.
 */
export function useHttp2Upstream(c: Cluster): void {
  c.typed_extension_protocol_options = {
    [HTTP_PROTOCOL_OPTIONS_KEY]: { '@type': TYPED_CONFIG.httpProtocolOptions, explicit_http_config: { http2_protocol_options: {} } },
  };
}
