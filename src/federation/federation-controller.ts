/**
 * The federation controller: one per cluster control plane. It exports the services the control
 * plane hands it (`update`) into the cluster's own datacenter, and imports the services of every
 * other datacenter whose published trust bundle shares a root with its own into the ImportSink.
 *
 * Lifecycle: `startFederation` validates its options, publishes the root, and starts exporting
 * (nothing until the first `update`) and importing. `close()` deregisters this cluster's services,
 * aborts every blocking query and resolves; it does not close the backend, which the caller owns.
 */
import { Gauge, type Registry } from '../common/prom.ts';
import { z } from 'zod';
import { createLogger, type Logger } from '../common/log.ts';
import type { DiscoveryBackend } from './discovery-interface.ts';
import { FederationOptionsError } from './federation-errors.ts';
import type { FederationEvent, FirstSyncState, ImportSink, LocalExportState } from './federation-interface.ts';
import { Exporter } from './exporter.ts';
import { Importer } from './importer.ts';
import { createHash } from 'node:crypto';
import { certificateBodies } from './trust-bundle.ts';

/** Options of startFederation. */
export interface FederationOptions {
  /** The local cluster; also the name of its Consul datacenter. */
  cluster: string;
  backend: DiscoveryBackend;
  /**
   * The local trust bundle: the mesh's root certificate(s), PEM. Published; a peer must publish a
   * bundle sharing at least one root with it. `setRoots` replaces it live (a root rotation).
   */
  rootCertPem: string;
  sink: ImportSink;
  /** TTL of the exported instances' checks, in seconds (default 15); heartbeats every ttl/3. */
  ttlSeconds?: number;
  logger?: Logger;
  /** Receives every domain event, synchronously, in order. Must not throw. */
  onEvent?: (event: FederationEvent) => void;
  /**
   * Registers the controller's metrics here: `meshfed_federation_import_staleness_seconds` and
   * `meshfed_federation_imported_endpoints`, per `source_cluster`, read at scrape time.
   */
  metrics?: Registry;
  /** Timing knobs; defaults suit production, tests shorten them. */
  tuning?: {
    /** How often the datacenter list is polled, in ms (default 5000). */
    datacenterPollMs?: number;
    /** `wait` of blocking queries, in seconds (default 30). */
    waitSeconds?: number;
    /** Orphan sweep period, in ms (default 30000). */
    sweepIntervalMs?: number;
    /** Consecutive watch failures before ClusterUnreachable (default 3). */
    unreachableAfterFailures?: number;
    /** First retry delay of a failed watch, in ms (default 500). */
    retryDelayMs?: number;
  };
}

/** A running federation controller. */
export interface FederationHandle {
  /** Replaces the local export state; reconciled asynchronously, retried until it succeeds. */
  update(state: LocalExportState): void;
  /**
   * `imports`: endpoints per imported cluster; `untrusted`: clusters refused for their root;
   * `exports`: hostnames currently registered by this cluster; `stalenessSeconds`: per watched
   * datacenter, seconds since it last answered.
   */
  status(): {
    imports: Record<string, number>;
    untrusted: string[];
    untrustedReasons: Record<string, string>;
    exports: string[];
    stalenessSeconds: Record<string, number>;
    rootFingerprints: string[];
  };
  /**
   * Replaces the local trust bundle without a restart: it is republished (retried until it
   * succeeds) and every peer is checked again against it. Throws FederationOptionsError when the
   * PEM holds no certificate.
   */
  setRoots(rootsPem: string): void;
  /**
   * Whether the first full sync with the backend is done (see FirstSyncState); readiness probes
   * poll it. Before it is, `reason` names the backend, what is missing and the last error.
   */
  firstSync(): FirstSyncState;
  /**
   * Stops the controller. Unless `{ deregister: false }` (which leaves the registrations to lapse
   * into critical, as a crashed cluster would), deregisters this cluster's services first.
   */
  close(opts?: { deregister?: boolean }): Promise<void>;
}

const optionsSchema = z.object({
  cluster: z.string().regex(/^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/, 'a lower-case datacenter name'),
  rootCertPem: z.string().refine((pem) => certificateBodies(pem).length > 0, 'a PEM certificate'),
  ttlSeconds: z.number().positive().max(3600).default(15),
  tuning: z
    .object({
      datacenterPollMs: z.number().int().positive().default(5000),
      waitSeconds: z.number().int().positive().max(300).default(30),
      sweepIntervalMs: z.number().int().positive().default(30_000),
      unreachableAfterFailures: z.number().int().positive().default(3),
      retryDelayMs: z.number().int().positive().default(500),
    })
    .default({
      datacenterPollMs: 5000,
      waitSeconds: 30,
      sweepIntervalMs: 30_000,
      unreachableAfterFailures: 3,
      retryDelayMs: 500,
    }),
});

/** SHA-256 fingerprints (upper-case hex with colons, as X509Certificate.fingerprint256) of a bundle's roots. */
function fingerprints(pem: string): string[] {
  return certificateBodies(pem).map((b) =>
    createHash('sha256')
      .update(Buffer.from(b, 'base64'))
      .digest('hex')
      .toUpperCase()
      .match(/../g)!
      .join(':'),
  );
}

/** The controller's gauges, computed when scraped. */
function registerFederationMetrics(registry: Registry, importer: Importer): void {
  new Gauge({
    name: 'meshfed_federation_import_staleness_seconds',
    help: "Seconds since a remote cluster's datacenter last answered this cluster's watches; its last imports keep serving meanwhile",
    labelNames: ['source_cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [dc, seconds] of Object.entries(importer.staleness())) this.set({ source_cluster: dc }, Math.round(seconds * 1000) / 1000);
    },
  });
  new Gauge({
    name: 'meshfed_federation_imported_endpoints',
    help: 'Endpoints imported from a remote cluster and served to Pilot',
    labelNames: ['source_cluster'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [dc, n] of Object.entries(importer.imports())) this.set({ source_cluster: dc }, n);
    },
  });
}

/** How readiness reasons name each backend. */
const BACKEND_NAMES: Readonly<Record<DiscoveryBackend['kind'], string>> = { consul: 'Consul', memory: 'the memory discovery' };

/** Starts the federation controller; throws FederationOptionsError for invalid options. */
export async function startFederation(options: FederationOptions): Promise<FederationHandle> {
  const parsed = optionsSchema.safeParse({
    cluster: options.cluster,
    rootCertPem: options.rootCertPem,
    ttlSeconds: options.ttlSeconds,
    tuning: options.tuning,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FederationOptionsError(`invalid ${issue?.path.join('.') ?? 'options'}: ${issue?.message ?? ''}`);
  }
  const { cluster, rootCertPem, ttlSeconds, tuning } = parsed.data;
  const logger = options.logger ?? createLogger('federation', { cluster });
  const emit = (event: FederationEvent): void => {
    logger.info({ event }, event.type);
    options.onEvent?.(event);
  };

  const exporter = new Exporter({
    cluster,
    backend: options.backend,
    rootCertPem,
    ttlSeconds,
    sweepIntervalMs: tuning.sweepIntervalMs,
    logger,
    emit,
  });
  const importer = new Importer({
    cluster,
    backend: options.backend,
    rootCertPem,
    sink: options.sink,
    waitSeconds: tuning.waitSeconds,
    datacenterPollMs: tuning.datacenterPollMs,
    unreachableAfterFailures: tuning.unreachableAfterFailures,
    retryDelayMs: tuning.retryDelayMs,
    logger,
    emit,
  });
  if (options.metrics) registerFederationMetrics(options.metrics, importer);
  exporter.start();
  importer.start();

  let closing: Promise<void> | undefined;
  return {
    update: (state) => {
      if (state.cluster !== cluster) {
        logger.error({ got: state.cluster }, 'export state of another cluster ignored');
        return;
      }
      exporter.update(state);
    },
    status: () => ({
      imports: importer.imports(),
      untrusted: importer.untrusted(),
      untrustedReasons: importer.untrustedReasons(),
      exports: exporter.exportedHostnames(),
      stalenessSeconds: importer.staleness(),
      rootFingerprints: fingerprints(exporter.published() ?? ''),
    }),
    setRoots: (rootsPem) => {
      if (certificateBodies(rootsPem).length === 0) throw new FederationOptionsError('invalid rootCertPem: a PEM certificate');
      logger.info({ roots: fingerprints(rootsPem) }, 'trust bundle replaced');
      exporter.setRoots(rootsPem);
      importer.setRoots(rootsPem);
    },
    firstSync: () => {
      const parts = [exporter.firstSync(), importer.firstSync()];
      const missing = parts.flatMap((p) => (p.done ? [] : [p.reason]));
      if (missing.length === 0) return { done: true };
      return { done: false, reason: `no full sync with ${BACKEND_NAMES[options.backend.kind]} yet: ${missing.join('; ')}` };
    },
    close: (opts) => {
      closing ??= Promise.all([importer.close(), exporter.close(opts?.deregister !== false)]).then(() => undefined);
      return closing;
    },
  };
}
