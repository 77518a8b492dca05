/**
 * The federation contract other components code against: what the control plane hands to the
 * federation controller (LocalExportState), what the controller hands to Pilot's federation
 * registry (ImportSink / ImportedEndpoint), and the domain events it reports.
 */
import type { ServiceProtocol } from '../common/service-protocol.ts';

/** A service this cluster exports (it has a ServiceExport), with its local endpoints. */
export interface ExportedService {
  namespace: string;
  name: string;
  /** `<name>.<namespace>.svc.cluster.local` */
  hostname: string;
  ports: { port: number; protocol: ServiceProtocol }[];
  endpoints: { workload: string; serviceAccount: string; labels: Record<string, string> }[];
}

/** What the local cluster offers; given by the control plane whenever it changes. */
export interface LocalExportState {
  cluster: string;
  gateway: { address: string; port: number };
  exports: ExportedService[];
}

/** One remote endpoint, reachable only through its cluster's east-west gateway. */
export interface ImportedEndpoint {
  cluster: string;
  namespace: string;
  service: string;
  hostname: string;
  /** The service port. */
  port: number;
  /** The port's protocol as its cluster declared it; absent from peers that predate protocols (http). */
  protocol?: ServiceProtocol;
  gateway: { address: string; port: number };
  /** Includes `topology.istio.io/cluster`. */
  labels: Record<string, string>;
  workload: string;
  serviceAccount: string;
  /**
   * The endpoint's stable id (`endpointIdOf` in src/xds/naming.ts), published by exporters whose
   * gateway accepts endpoint-qualified SNIs. Absent from older peers: their endpoints are reached
   * with the plain service SNI, the gateway choosing among them.
   */
  endpointId?: string;
}

/** Pilot's federation registry implements this; the controller feeds it. */
export interface ImportSink {
  /** Replaces every endpoint previously imported from `cluster` (a shard) with `endpoints`. */
  replaceCluster(cluster: string, endpoints: ImportedEndpoint[]): void;
  /** Drops the whole shard of `cluster`. */
  removeCluster(cluster: string): void;
}

/** Domain events (docs/conventions.md: federation turns watch events into named domain events). */
export type FederationEvent =
  | { type: 'ServiceExported'; cluster: string; hostname: string }
  | { type: 'ServiceWithdrawn'; cluster: string; hostname: string }
  | { type: 'ClusterUnreachable'; cluster: string; reason: string }
  | { type: 'ClusterUntrusted'; cluster: string; reason: string }
  | { type: 'ClusterImported'; cluster: string; endpoints: number };

/**
 * Whether the controller has completed its first full sync with the discovery backend: the root
 * published, the export state registered, and one import pass over every peer datacenter listed
 * (each imported, found untrusted, or reported unreachable). Latched: once done, stays done (the
 * last imports keep serving through a later outage). `reason` says what is missing and the last
 * error seen.
 */
export type FirstSyncState = { done: true } | { done: false; reason: string };

/** The MCS Conflict condition of one ServiceExport of this cluster (export-conflict.ts). */
export interface ConflictVerdict {
  status: 'True' | 'False';
  reason: 'PortConflict' | 'NoConflict';
  /** Names the other exporting cluster(s) and, with a conflict, the port, what each declared and which export wins. */
  message: string;
}

/**
 * What the CRD config store reads to write a ServiceExport's `Conflict` condition. Fed by the
 * control plane (export-conflict-tracker.ts): this cluster's exports and the imported ones.
 */
export interface ExportConflictSource {
  /** The verdict for this cluster's export of namespace/name; undefined while this cluster does not export it (Conflict stays Unknown). */
  verdict(namespace: string, name: string): ConflictVerdict | undefined;
  /** Called (synchronously, after the change) whenever any verdict may have changed. */
  onChange(cb: () => void): void;
}
