/**
 * Plain data describing mesh workloads, shared by the local runner (which writes it), Pilot's file
 * registry and Citadel's token authenticator (which read it) and federation (which exports it).
 * Files live in the runner's state directory:
 *   <stateDir>/clusters/<cluster>/workloads.json  — WorkloadRegistryFile
 * (`meshfed citadel --auth bootstrap` reads a BootstrapTokenFile; the runner mints bound tokens
 * instead: src/cli/runner/cluster-files.ts.)
 */

import type { ServiceProtocol } from './service-protocol.ts';

/** One workload (pod-equivalent) of a cluster. */
export interface WorkloadSpec {
  /** Unique per cluster and namespace, e.g. `reviews-v1`. */
  name: string;
  namespace: string;
  serviceAccount: string;
  /** Cluster the workload runs in; also its `topology.istio.io/cluster` label. */
  cluster: string;
  /** The workload's own address (loopback 127.x.y.z locally, or a pod address in a netns). */
  address: string;
  labels: Record<string, string>;
  /** The service this workload backs, and the port its app listens on at `address`. */
  service: { name: string; port: number; protocol: ServiceProtocol };
  /** False for workloads without a sidecar (e.g. a proxyless gRPC server): plaintext endpoints. */
  sidecar: boolean;
}

export interface WorkloadRegistryFile {
  cluster: string;
  /** Address of the cluster's east-west gateway (its port is 15443), if the cluster has one. */
  gatewayAddress?: string;
  workloads: WorkloadSpec[];
}

/** Maps sha256(token) in hex to the identity the token stands for. */
export interface BootstrapTokenFile {
  tokens: Record<string, { namespace: string; serviceAccount: string; workload: string }>;
}
