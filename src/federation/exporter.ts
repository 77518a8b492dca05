/**
 * The export half of the federation controller: keeps the local datacenter's meshfed
 * registrations equal to the desired export state, keeps their TTL checks passing, sweeps
 * orphans of its own ID prefix, and publishes the cluster's root certificate.
 *
 * Order of work: the root is published first (importers refuse clusters without one), then
 * registrations; both run on the exporter's retrying queue. Heartbeats and sweeps run on timers
 * and only enqueue work when they find a registration missing.
 */
import type { Logger } from '../common/log.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { type ConsulRegistration, registrationIdPrefix, toRegistrations } from './consul/conversion.ts';
import type { DiscoveryBackend } from './discovery-interface.ts';
import type { FederationEvent, FirstSyncState, LocalExportState } from './federation-interface.ts';
import { RetryingQueue } from './retrying-queue.ts';

/** Options of the exporter (validated by startFederation). */
export interface ExporterOptions {
  cluster: string;
  backend: DiscoveryBackend;
  rootCertPem: string;
  ttlSeconds: number;
  sweepIntervalMs: number;
  logger: Logger;
  emit: (event: FederationEvent) => void;
}

const KEY_TRUST = 'trust-bundle';
const KEY_EXPORTS = 'exports';

export class Exporter {
  /** What should be registered, by ID, with the hostname each belongs to. */
  private desired = new Map<string, { registration: ConsulRegistration; hostname: string }>();
  /** What is registered (as far as this process knows), by ID, as JSON for change detection. */
  private readonly registered = new Map<string, { json: string; hostname: string; checkId: string }>();
  /** Hostnames announced with ServiceExported and not yet withdrawn. */
  private readonly announced = new Set<string>();
  private readonly queue: RetryingQueue;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  /** How many export states `update` has been given. */
  private updates = 0;
  private rootPublished = false;
  /** True once a reconcile of a state given by `update` succeeded. */
  private exportsRegistered = false;
  private lastError: string | undefined;

  /** The bundle to publish; replaced by setRoots. */
  private rootsPem: string;
  /** The bundle last published successfully. */
  private publishedRootsPem: string | undefined;

  constructor(private readonly opts: ExporterOptions) {
    this.rootsPem = opts.rootCertPem;
    this.queue = new RetryingQueue((key) => this.run(key), {
      onFailure: (key, attempt, error) => {
        this.lastError = error.message;
        opts.logger.warn({ key, attempt, err: error.message }, 'export work failed');
      },
    });
  }

  /** Publishes a new local trust bundle (a rotation); retried until it succeeds. */
  setRoots(rootsPem: string): void {
    if (rootsPem === this.rootsPem) return;
    this.rootsPem = rootsPem;
    this.queue.add(KEY_TRUST);
  }

  /** The bundle last published to the backend, or undefined before the first success. */
  published(): string | undefined {
    return this.publishedRootsPem;
  }

  /** Publishes the root, sweeps orphans left by an earlier run, starts heartbeats and sweeps. */
  start(): void {
    this.queue.add(KEY_TRUST);
    this.queue.add(KEY_EXPORTS);
    const heartbeatMs = Math.max(100, (this.opts.ttlSeconds * 1000) / 3);
    this.timers.push(setInterval(() => void this.heartbeat(), heartbeatMs));
    this.timers.push(setInterval(() => void this.sweep(), this.opts.sweepIntervalMs));
    for (const t of this.timers) t.unref();
    void this.sweep();
  }

  /** Replaces the desired export state; reconciliation runs on the queue. */
  update(state: LocalExportState): void {
    const { registrations, rejected } = toRegistrations(state, { ttlSeconds: this.opts.ttlSeconds });
    for (const problem of rejected) this.opts.logger.warn({ problem }, 'export rejected');
    this.desired = new Map(
      registrations.map((r) => [r.id, { registration: r, hostname: r.meta['sni_host'] ?? r.name }]),
    );
    this.updates++;
    this.queue.add(KEY_EXPORTS);
  }

  /** Done once the root is published and an export state given by `update` is registered. */
  firstSync(): FirstSyncState {
    if (this.rootPublished && this.exportsRegistered) return { done: true };
    const missing = [
      ...(this.rootPublished ? [] : ['root not published']),
      ...(this.exportsRegistered ? [] : [this.updates === 0 ? 'no export state given' : 'exports not registered']),
    ].join(', ');
    return { done: false, reason: this.lastError === undefined ? missing : `${missing} (${this.lastError})` };
  }

  /** Hostnames currently registered. */
  exportedHostnames(): string[] {
    return [...this.announced].sort();
  }

  /** Resolves when queued export work has run (tests and close use it). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * Stops timers and the queue, then deregisters everything this process registered unless
   * `deregister` is false (a crash leaves registrations behind to lapse into critical).
   */
  async close(deregister: boolean): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.queue.close();
    if (!deregister) return;
    const ids = new Set([...this.registered.keys(), ...this.desired.keys()]);
    await Promise.all(
      [...ids].map(async (id) => {
        const r = await this.opts.backend.deregister(id);
        if (!r.ok) this.opts.logger.warn({ id, err: r.errors.message }, 'deregister on close failed');
      }),
    );
    this.registered.clear();
  }

  private async run(key: string): Promise<Result<void, Error>> {
    if (key === KEY_TRUST) {
      const pem = this.rootsPem;
      const r = await this.opts.backend.putTrustBundle(this.opts.cluster, pem);
      if (!r.ok) return fail(r.errors);
      this.rootPublished = true;
      this.publishedRootsPem = pem;
      return ok(undefined);
    }
    const given = this.updates > 0;
    const r = await this.reconcile();
    if (r.ok && given) this.exportsRegistered = true;
    return r;
  }

  /** Registers new or changed instances, deregisters withdrawn ones, then announces the diff. */
  private async reconcile(): Promise<Result<void, Error>> {
    const { backend } = this.opts;
    let firstError: Error | undefined;
    for (const [id, want] of this.desired) {
      const json = JSON.stringify(want.registration);
      if (this.registered.get(id)?.json === json) continue;
      const r = await backend.register(want.registration);
      if (r.ok) this.registered.set(id, { json, hostname: want.hostname, checkId: want.registration.check.id });
      else firstError ??= r.errors;
    }
    for (const id of [...this.registered.keys()]) {
      if (this.desired.has(id)) continue;
      const r = await backend.deregister(id);
      if (r.ok) this.registered.delete(id);
      else firstError ??= r.errors;
    }
    this.announce();
    return firstError ? fail(firstError) : ok(undefined);
  }

  private announce(): void {
    const now = new Set([...this.registered.values()].map((r) => r.hostname));
    const { cluster } = this.opts;
    for (const hostname of now) {
      if (this.announced.has(hostname)) continue;
      this.announced.add(hostname);
      this.opts.emit({ type: 'ServiceExported', cluster, hostname });
    }
    for (const hostname of [...this.announced]) {
      if (now.has(hostname)) continue;
      this.announced.delete(hostname);
      this.opts.emit({ type: 'ServiceWithdrawn', cluster, hostname });
    }
  }

  /** Keeps every TTL check passing; a check the agent no longer knows is registered again. */
  private async heartbeat(): Promise<void> {
    const entries = [...this.registered.entries()];
    let lost = false;
    await Promise.all(
      entries.map(async ([id, r]) => {
        const beat = await this.opts.backend.heartbeat(r.checkId);
        if (beat.ok || this.closed) return;
        this.opts.logger.warn({ id, err: beat.errors.message }, 'heartbeat failed');
        if (beat.errors.code === 'DISCOVERY_REQUEST_FAILED' && this.registered.get(id) === r) {
          this.registered.delete(id);
          lost = true;
        }
      }),
    );
    if (lost && !this.closed) this.queue.add(KEY_EXPORTS);
  }

  /** Deregisters instances under this cluster's ID prefix that are no longer desired. */
  private async sweep(): Promise<void> {
    const ids = await this.opts.backend.localServiceIds();
    if (!ids.ok || this.closed) return;
    const prefix = registrationIdPrefix(this.opts.cluster);
    for (const id of ids.value) {
      if (!id.startsWith(prefix) || this.desired.has(id) || this.closed) continue;
      const r = await this.opts.backend.deregister(id);
      this.opts.logger.info({ id, ok: r.ok }, 'swept orphan registration');
      if (r.ok) this.registered.delete(id);
    }
  }
}
