/**
 * The writers a control plane runs against its own cluster's API server, each under its own Lease
 * in the control plane's namespace, as istiod runs its controllers, so that of several replicas
 * only one writes:
 * - `meshfed-service-imports`: the MCS ServiceImports for what federation imports
 *   (src/federation/kube), an ImportSink beside Pilot's federation registry or the imports folder;
 * - `meshfed-root-cert`: the `meshfed-ca-root-cert` ConfigMap in every namespace and the caBundle
 *   of meshfed's webhook configurations (src/citadel/kube).
 * The CRD config store's status writer takes its own Lease (`meshfed-config-status`).
 *
 * Loaded on demand by the control plane and `meshfed federation` when they run in Kubernetes (the
 * `kube` registry or the `crd` config store), so other processes never load client-node.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { startRootCertPublisher } from '../citadel/kube/index.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { createServiceImportWriter, type ImportSink } from '../federation/index.ts';
import { createLeaseElector, type LeaseElectorOptions } from '../pilot/config/crd/index.ts';

/** Lease timing (tests shorten it); defaults as createLeaseElector's (15 s lease, 2 s retry). */
export type LeaseTiming = Partial<Pick<LeaseElectorOptions, 'leaseDurationSeconds' | 'renewDeadlineMs' | 'retryPeriodMs'>>;

/** What every writer needs. */
export interface KubeWriterOptions {
  kubeConfig: KubeConfig;
  /** The control plane's namespace, where its Leases live. */
  namespace: string;
  /** This replica's Lease holderIdentity (leaseIdentity()). */
  identity: string;
  logger: Logger;
  lease?: LeaseTiming;
}

/** A writer running under its Lease. */
export interface LeaseHeldWriter {
  /** True while this replica holds the writer's Lease. */
  isWriter(): boolean;
  /** Resolves when no write is pending or running. */
  idle(): Promise<void>;
  /** Stops writing and releases the Lease (unless `releaseLease` is false, as a crash would). */
  close(opts?: { releaseLease?: boolean }): Promise<void>;
}

/** A Lease holderIdentity unique to this process: the host (a pod's name) and a random suffix, as client-go makes it. */
export function leaseIdentity(): string {
  return `${hostname()}_${randomUUID()}`;
}

function elector(o: KubeWriterOptions, name: string) {
  return createLeaseElector({
    kubeConfig: o.kubeConfig,
    namespace: o.namespace,
    name,
    identity: o.identity,
    logger: o.logger,
    ...(o.lease ?? {}),
  });
}

/**
 * ServiceImports for federation's imports, written while this replica holds the Lease
 * `meshfed-service-imports`; on gaining it, every ServiceImport is reconciled (orphans swept).
 */
export function startServiceImportSync(o: KubeWriterOptions): ImportSink & LeaseHeldWriter {
  const lease = elector(o, 'meshfed-service-imports');
  const writer = createServiceImportWriter({ kubeConfig: o.kubeConfig, logger: o.logger, canWrite: () => lease.isLeader() });
  lease.onChange((leader) => {
    if (leader) writer.resync();
  });
  return {
    replaceCluster: (cluster, endpoints) => writer.replaceCluster(cluster, endpoints),
    removeCluster: (cluster) => writer.removeCluster(cluster),
    isWriter: () => lease.isLeader(),
    idle: () => writer.idle(),
    async close(c = {}) {
      await writer.close();
      await lease.stop({ release: c.releaseLease !== false });
    },
  };
}

/** Options of startRootCertDistribution. */
export interface RootCertDistributionOptions extends KubeWriterOptions {
  rootCertPem: string;
  /** Webhook configurations whose caBundle is kept at the root (the control plane's own). */
  webhookConfigurations?: { validating?: readonly string[]; mutating?: readonly string[] };
}

/**
 * The root ConfigMap in every namespace and the webhooks' caBundle, written while this replica
 * holds the Lease `meshfed-root-cert`; on gaining it, everything is reconciled.
 */
export function startRootCertDistribution(o: RootCertDistributionOptions): LeaseHeldWriter {
  const lease = elector(o, 'meshfed-root-cert');
  const publisher = startRootCertPublisher({
    kubeConfig: o.kubeConfig,
    rootCertPem: o.rootCertPem,
    logger: o.logger,
    canWrite: () => lease.isLeader(),
    ...(o.webhookConfigurations !== undefined ? { webhookConfigurations: o.webhookConfigurations } : {}),
  });
  lease.onChange((leader) => {
    if (leader) publisher.resync();
  });
  return {
    isWriter: () => lease.isLeader(),
    idle: () => publisher.idle(),
    async close(c = {}) {
      await publisher.close();
      await lease.stop({ release: c.releaseLease !== false });
    },
  };
}

/** Closes every writer, logging (never throwing) a failure of one. */
export async function closeWriters(writers: readonly LeaseHeldWriter[], logger: Logger): Promise<void> {
  await Promise.all(
    writers.map((w) =>
      w.close().catch((e: unknown) => {
        logger.warn({ err: errorMessage(e) }, 'closing a Kubernetes writer failed');
      }),
    ),
  );
}
