/**
 * The registries' model of service discovery (after Istio's `model.Service` and
 * `model.IstioEndpoint`): what every registry produces and `buildSnapshot` consumes. Plain frozen
 * data; a registry replaces whole shards of it (registry-interface.ts).
 */
import type { ServiceProtocol } from '../../common/service-protocol.ts';

/** A port of a RegistryService. */
export interface RegistryServicePort {
  /** The port's name (Kubernetes `ports[].name`; may be empty for a single-port Service). */
  readonly name: string;
  /** The service port clients dial. */
  readonly port: number;
  /**
   * Kubernetes `targetPort` as declared: a number, or the name of a container port (resolved per
   * endpoint, see RegistryEndpoint.port). Absent: the endpoints' port equals `port`.
   */
  readonly targetPort?: number | string;
  /** Chosen by src/common/service-protocol.ts (protocol, appProtocol, name prefix, default). */
  readonly protocol: ServiceProtocol;
}

/** A service of one cluster (Istio `model.Service`). */
export interface RegistryService {
  /** `reviews.default.svc.cluster.local` */
  readonly hostname: string;
  readonly name: string;
  readonly namespace: string;
  readonly cluster: string;
  /** Multi-port; sorted by port. */
  readonly ports: readonly RegistryServicePort[];
  /** The Service's own labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Cluster VIPs (ClusterIP / clusterIPs); empty for a headless service or a file workload. */
  readonly addresses: readonly string[];
}

/** Where an endpoint runs; empty strings stand for "not set" (src/pilot/model/locality.ts). */
export interface EndpointLocality {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/**
 * An endpoint's health as Istio reads an EndpointSlice (`endpointHealthStatus`): `ready` unset or
 * true is healthy; not ready and `terminating` is terminating; not ready otherwise is unhealthy.
 */
export type EndpointHealth = 'healthy' | 'unhealthy' | 'terminating';

/** One (workload address, service port) pair (Istio `model.IstioEndpoint`). */
export interface RegistryEndpoint {
  /** Hostname of the RegistryService this endpoint backs (same shard). */
  readonly hostname: string;
  /** The service port this endpoint serves, by name and number. */
  readonly servicePortName: string;
  readonly servicePort: number;
  readonly address: string;
  /** The port dialled at `address`: the service port's targetPort resolved for this workload. */
  readonly port: number;
  /** The workload's (pod's) labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly serviceAccount: string;
  /** The workload (pod) name. */
  readonly workload: string;
  readonly namespace: string;
  readonly cluster: string;
  readonly locality: EndpointLocality;
  /** True when the workload runs a sidecar (Istio tlsMode `istio`); false: plaintext (`disabled`). */
  readonly sidecar: boolean;
  readonly health: EndpointHealth;
}
