/**
 * The import half of the federation controller. It discovers the other datacenters, watches each
 * (datacenter-watch.ts), and on its retrying queue turns the latest raw results of a datacenter
 * into domain events and into one `replaceCluster` of the import sink — a shard per cluster,
 * never merged in place.
 *
 * Trust: before importing from a datacenter, every sync reads the bundle that cluster published at
 * `meshfed/trust-bundle/<cluster>` in its own datacenter. If it is absent or shares no root with
 * the local bundle (trust-bundle.ts `peerTrust`; overlapping bundles are how a root rotation keeps
 * peers federated), the cluster is untrusted: ClusterUntrusted once per refusal, its shard
 * removed, nothing imported until a later sync finds an overlap. `setRoots` replaces the local
 * bundle and re-checks every peer. A datacenter's name is its cluster's name.
 *
 * Reachability: after `unreachableAfterFailures` consecutive watch failures the cluster is
 * reported ClusterUnreachable; its last imports stay, since Consul decides health and a partition
 * is not a withdrawal.
 *
 * First pass (`firstSync`): the peers of the first successful datacenter listing, each settled by
 * a sync that imported it, found it untrusted, or reported it unreachable (a peer that vanished
 * from the listing no longer counts).
 */
import type { Logger } from '../common/log.ts';
import { fail, ok, type Result } from '../common/result.ts';
import { fromHealthEntries } from './consul/conversion.ts';
import { type DatacenterWatch, startDatacenterWatch } from './datacenter-watch.ts';
import type { DiscoveryBackend } from './discovery-interface.ts';
import type { FederationEvent, FirstSyncState, ImportedEndpoint, ImportSink } from './federation-interface.ts';
import { RetryingQueue } from './retrying-queue.ts';
import { peerTrust } from './trust-bundle.ts';

/** Options of the importer (validated by startFederation). */
export interface ImporterOptions {
  cluster: string;
  backend: DiscoveryBackend;
  rootCertPem: string;
  sink: ImportSink;
  waitSeconds: number;
  datacenterPollMs: number;
  unreachableAfterFailures: number;
  retryDelayMs: number;
  logger: Logger;
  emit: (event: FederationEvent) => void;
}

/** Everything known about one remote datacenter. Watch callbacks write only `raw` and `failure`. */
interface RemoteState {
  watch: DatacenterWatch;
  /** Latest raw health entries by service; undefined until the first complete snapshot. */
  raw: Map<string, unknown> | undefined;
  /** The last watch error while failing repeatedly; undefined when healthy. */
  failure: string | undefined;
  reportedUnreachable: boolean;
  untrusted: boolean;
  /** Why the cluster is untrusted (set with `untrusted`). */
  untrustedReason: string | undefined;
  /** What the sink holds for this cluster; undefined when it holds nothing. */
  imported: ImportedEndpoint[] | undefined;
  importedJson: string;
  hostnames: Set<string>;
  /** When a watch request of this datacenter last answered (ms epoch); the watch's start before. */
  lastContactMs: number;
}

function endpointKey(e: ImportedEndpoint): string {
  return `${e.namespace}/${e.service}/${e.workload}/${e.port}`;
}

export class Importer {
  private readonly remotes = new Map<string, RemoteState>();
  private readonly queue: RetryingQueue;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The peers of the first successful datacenter listing; undefined until there is one. */
  private firstPeers: ReadonlySet<string> | undefined;
  /** Peers a sync has settled (imported, untrusted or reported unreachable) at least once. */
  private readonly settled = new Set<string>();
  private firstPassDone = false;
  private lastError: string | undefined;

  /** The local trust bundle; replaced by setRoots. */
  private rootsPem: string;

  constructor(private readonly opts: ImporterOptions) {
    this.rootsPem = opts.rootCertPem;
    this.queue = new RetryingQueue((dc) => this.syncAndSettle(dc), {
      onFailure: (dc, attempt, error) => {
        this.lastError = `${dc}: ${error.message}`;
        opts.logger.warn({ dc, attempt, err: error.message }, 'import sync failed');
      },
    });
  }

  start(): void {
    void this.discover();
    this.pollTimer = setInterval(() => void this.discover(), this.opts.datacenterPollMs);
    this.pollTimer.unref();
  }

  /** Endpoint count per imported cluster. */
  imports(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [dc, st] of this.remotes) if (st.imported) out[dc] = st.imported.length;
    return out;
  }

  /**
   * Per watched datacenter, seconds since it last answered (since its watch started if it never
   * did). While Consul or the peer is unreachable this grows, and the last imports keep serving.
   */
  staleness(now = Date.now()): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [dc, st] of this.remotes) out[dc] = Math.max(0, (now - st.lastContactMs) / 1000);
    return out;
  }

  /** Done once every peer of the first datacenter listing has been settled by a sync. */
  firstSync(): FirstSyncState {
    if (this.firstPassDone) return { done: true };
    const peers = this.firstPeers;
    if (peers === undefined) {
      return { done: false, reason: `datacenters not listed${this.lastError === undefined ? '' : ` (${this.lastError})`}` };
    }
    const pending = [...peers].filter((dc) => this.remotes.has(dc) && !this.settled.has(dc)).sort();
    if (pending.length === 0) {
      this.firstPassDone = true;
      return { done: true };
    }
    const why = this.lastError === undefined ? '' : ` (${this.lastError})`;
    return { done: false, reason: `no import pass over ${pending.join(', ')}${why}` };
  }

  untrusted(): string[] {
    return [...this.remotes].filter(([, st]) => st.untrusted).map(([dc]) => dc).sort();
  }

  /** Why each untrusted cluster was refused. */
  untrustedReasons(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [dc, st] of [...this.remotes].sort(([a], [b]) => a.localeCompare(b))) if (st.untrusted && st.untrustedReason) out[dc] = st.untrustedReason;
    return out;
  }

  /** Replaces the local trust bundle (a rotation) and re-checks every peer that has a snapshot. */
  setRoots(rootsPem: string): void {
    if (rootsPem === this.rootsPem) return;
    this.rootsPem = rootsPem;
    for (const [dc, st] of this.remotes) if (st.raw && !this.queue.retrying(dc)) this.queue.add(dc);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Stops discovery, every watch (aborting its blocking queries) and the queue. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const st of this.remotes.values()) st.watch.stop();
    await this.queue.close();
  }

  /** Starts watches for new datacenters, drops vanished ones, and rechecks untrusted ones. */
  private async discover(): Promise<void> {
    const listed = await this.opts.backend.datacenters();
    if (this.closed) return;
    if (!listed.ok) {
      this.lastError = listed.errors.message;
      this.opts.logger.warn({ err: listed.errors.message }, 'listing datacenters failed');
      return;
    }
    const names = new Set(listed.value.filter((dc) => dc !== this.opts.cluster));
    this.firstPeers ??= new Set(names);
    for (const dc of names) {
      const known = this.remotes.get(dc);
      if (known) {
        // Re-reads the published root, so a rotated or repaired root takes effect; a sync that
        // is failing keeps its backoff.
        if (known.raw && !this.queue.retrying(dc)) this.queue.add(dc);
        continue;
      }
      this.opts.logger.info({ dc }, 'watching datacenter');
      this.remotes.set(dc, this.watch(dc));
    }
    for (const [dc, st] of this.remotes) {
      if (names.has(dc)) continue;
      st.watch.stop();
      this.drop(dc, st);
      this.remotes.delete(dc);
    }
  }

  private watch(dc: string): RemoteState {
    const state: RemoteState = {
      watch: { stop: () => undefined },
      raw: undefined,
      failure: undefined,
      reportedUnreachable: false,
      untrusted: false,
      untrustedReason: undefined,
      imported: undefined,
      importedJson: '',
      hostnames: new Set(),
      lastContactMs: Date.now(),
    };
    state.watch = startDatacenterWatch(
      {
        backend: this.opts.backend,
        datacenter: dc,
        waitSeconds: this.opts.waitSeconds,
        retryDelayMs: this.opts.retryDelayMs,
      },
      {
        onSnapshot: (entries) => {
          state.raw = entries;
          this.queue.add(dc);
        },
        onFailure: (consecutive, error) => {
          this.lastError = `${dc}: ${error.message}`;
          if (consecutive < this.opts.unreachableAfterFailures) return;
          state.failure = error.message;
          this.queue.add(dc);
        },
        onRecovered: () => {
          state.failure = undefined;
          state.reportedUnreachable = false;
        },
        onContact: () => {
          state.lastContactMs = Date.now();
        },
      },
    );
    return state;
  }

  /** Removes a cluster's shard and withdraws its hostnames. */
  private drop(dc: string, st: RemoteState): void {
    if (st.imported) this.opts.sink.removeCluster(dc);
    for (const hostname of st.hostnames) this.opts.emit({ type: 'ServiceWithdrawn', cluster: dc, hostname });
    st.hostnames = new Set();
    st.imported = undefined;
    st.importedJson = '';
  }

  /** The queue handler: a sync, then the peer counts as settled if the sync reached an outcome. */
  private async syncAndSettle(dc: string): Promise<Result<void, Error>> {
    const r = await this.sync(dc);
    const st = this.remotes.get(dc);
    if (r.ok && st && (st.raw !== undefined || st.reportedUnreachable)) this.settled.add(dc);
    return r;
  }

  /** Brings the sink and the events up to date with one datacenter. */
  private async sync(dc: string): Promise<Result<void, Error>> {
    const st = this.remotes.get(dc);
    if (!st || this.closed) return ok(undefined);
    if (st.failure !== undefined && !st.reportedUnreachable) {
      st.reportedUnreachable = true;
      this.opts.emit({ type: 'ClusterUnreachable', cluster: dc, reason: st.failure });
    }
    const raw = st.raw;
    if (!raw) return ok(undefined);

    const published = await this.opts.backend.getTrustBundle(dc, dc);
    if (this.closed) return ok(undefined);
    if (!published.ok) return fail(published.errors);
    const trust = peerTrust(dc, published.value, this.rootsPem);
    if (!trust.trusted) {
      if (!st.untrusted || st.untrustedReason !== trust.reason) {
        st.untrusted = true;
        st.untrustedReason = trust.reason;
        this.opts.logger.warn({ dc, reason: trust.reason }, 'peer cluster refused');
        this.opts.emit({ type: 'ClusterUntrusted', cluster: dc, reason: trust.reason });
      }
      this.drop(dc, st);
      return ok(undefined);
    }
    st.untrusted = false;
    st.untrustedReason = undefined;

    const endpoints: ImportedEndpoint[] = [];
    for (const [service, entries] of raw) {
      const converted = fromHealthEntries(dc, entries);
      if (!converted.ok) {
        this.opts.logger.warn({ dc, service, errors: converted.errors }, 'ignored malformed health answer');
        continue;
      }
      for (const problem of converted.value.skipped) {
        this.opts.logger.warn({ dc, service, problem }, 'skipped malformed instance');
      }
      endpoints.push(...converted.value.endpoints);
    }
    endpoints.sort((a, b) => endpointKey(a).localeCompare(endpointKey(b)));

    const hostnames = new Set(endpoints.map((e) => e.hostname));
    for (const hostname of hostnames) {
      if (!st.hostnames.has(hostname)) this.opts.emit({ type: 'ServiceExported', cluster: dc, hostname });
    }
    for (const hostname of st.hostnames) {
      if (!hostnames.has(hostname)) this.opts.emit({ type: 'ServiceWithdrawn', cluster: dc, hostname });
    }
    st.hostnames = hostnames;

    const json = JSON.stringify(endpoints);
    if (st.imported && json === st.importedJson) return ok(undefined);
    this.opts.sink.replaceCluster(dc, endpoints);
    st.imported = endpoints;
    st.importedJson = json;
    this.opts.emit({ type: 'ClusterImported', cluster: dc, endpoints: endpoints.length });
    return ok(undefined);
  }
}
