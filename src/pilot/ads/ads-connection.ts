import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.ts';
import { errorMessage } from '../../common/errors.ts';
import { encodeDiscoveryResponse } from '../../xds/discovery-response-codec.ts';
import { type ProxyNode, parseNode } from '../../xds/node.ts';
import { PUSH_ORDER, TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import { type DiscoveryRequest, isXdsTypeUrl, parseDiscoveryRequest } from './discovery-request.ts';
import type { AdsMetrics, PushRequest, PushSnapshot } from './push-interface.ts';
import { type PushItem, PushQueue, type QueuedPush } from './push-queue.ts';
import type { EncodedResource, ResourceCache } from './resource-cache.ts';

/** Protocol state of one type on one stream, as `AdsServer.status()` reports it. */
export interface TypeStatus {
  typeUrl: XdsTypeUrl;
  /** LDS/CDS subscribed to everything. */
  wildcard: boolean;
  /** Names the proxy asked for (empty when wildcard or unsubscribed). */
  requested: string[];
  versionSent?: string;
  versionAcked?: string;
  /** Nonce of the latest response sent; only a request carrying it is an ACK or NACK. */
  nonce?: string;
  /** Detail of the last NACK, cleared by the next ACK. */
  nack?: string;
  /** Resources the last NACK names, with the part of the detail that names each. */
  nackedResources: Record<string, string>;
  /** Names of the resources the proxy holds from this stream (all it was sent and still subscribes to). */
  resourceNames: string[];

}

/** One connected proxy (one ADS stream). */
export interface ProxyStatus {
  streamId: number;
  nodeId: string;
  type: ProxyNode['type'];
  cluster: string;
  namespace: string;
  workload: string;
  /** Work items waiting in the stream's bounded queue. */
  queued: number;
  /** Pushes merged into an earlier one because the stream was busy. */
  coalesced: number;
  /** Version of the snapshot the stream sends from (the latest push it took), once it sent anything. */
  snapshot?: string;
  /** Per subscribed type URL. */
  types: Partial<Record<XdsTypeUrl, TypeStatus>>;
}

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** False after the proxy unsubscribed from everything of this type. */
  active: boolean;
  nonce?: string;
  versionSent?: string;
  versionAcked?: string;
  nack?: string;
  nackedResources: Record<string, string>;
  /**
   * What the proxy holds from this stream: name → content hash of every resource it was sent and
   * still subscribes to. A push sends only what differs from it.
   */
  held: Map<string, string>;
}

export interface ConnectionDeps<S extends PushSnapshot & object> {
  cache: ResourceCache<S>;
  /** The newest snapshot pushed (or the initial one): what a stream answers from before its first push. */
  latest: () => S;
  logger: Logger;
  queueLimit: number;
  metrics?: AdsMetrics | undefined;
  onNack?: ((node: ProxyNode, typeUrl: string, detail: string) => void) | undefined;
  onClose: (c: AdsConnection<S>) => void;
}

type AdsCall = grpc.ServerDuplexStream<unknown, unknown>;

/** Types for which an empty first request means "everything". */
const WILDCARD_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.cluster];

/**
 * Types whose state-of-the-world response must list every resource (an absent one is deleted).
 * For EDS and RDS an absent resource is left alone, so a push sends only the changed ones.
 */
const COMPLETE_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.cluster];

let nextStreamId = 1;

/**
 * The state-of-the-world protocol on one ADS stream. The gRPC handler feeds it requests; `push()`
 * feeds it snapshots. All sends go through a bounded queue drained by one async loop that waits for
 * 'drain' when the transport pushes back, so a slow proxy stalls only its own stream.
 *
 * Snapshot pinning: the stream sends from one snapshot at a time. Taking a push pins its snapshot,
 * and every type of that push, and every subscription answered until the next push is taken, is
 * generated from it, even when newer snapshots arrive while the stream waits for flow control. A
 * push is always finished before the next is taken; pushes that queue up meanwhile merge into one
 * of the newest snapshot (see PushQueue), so a slow stream jumps ahead whole snapshots at a time.
 * Never throws out of a stream callback: failures are logged and end the stream at worst.
 */
export class AdsConnection<S extends PushSnapshot & object> {
  readonly streamId = nextStreamId++;
  private node: ProxyNode | undefined;
  private readonly types = new Map<XdsTypeUrl, TypeState>();
  private readonly queue: PushQueue<S>;
  private pinned: S | undefined;
  /** The push whose responses the proxy has not all answered yet (for convergence time). */
  private converging: { changedAt: number; awaiting: Set<XdsTypeUrl> } | undefined;
  private pumping = false;
  private closed = false;
  private nonceSeq = 0;
  private readonly log: Logger;

  constructor(
    private readonly call: AdsCall,
    private readonly deps: ConnectionDeps<S>,
  ) {
    this.queue = new PushQueue(deps.queueLimit);
    this.log = deps.logger.child({ stream: this.streamId });
    call.on('data', (raw: unknown) => this.guard(() => this.onRequest(raw)));
    call.on('end', () => this.guard(() => this.close('client ended the stream')));
    call.on('cancelled', () => this.guard(() => this.close('cancelled')));
    call.on('error', (e: unknown) => this.guard(() => this.close(`stream error: ${errorMessage(e)}`)));
    call.on('close', () => this.guard(() => this.close('closed')));
  }

  /** A new snapshot: queue a push of it (merged with pushes still waiting). */
  push(p: PushRequest<S>): void {
    if (this.closed || !this.node) return;
    this.queue.offerPush(p);
    void this.pump();
  }

  /** Ends the stream with OK (server shutdown) and forgets it. Idempotent. */
  close(reason = 'server closing'): void {
    if (this.closed) return;
    this.closed = true;
    this.log.debug({ reason }, 'ads stream closed');
    try {
      if (!this.call.writableEnded && !this.call.destroyed) this.call.end();
    } catch (e: unknown) {
      this.log.debug({ err: errorMessage(e) }, 'ending ads stream failed');
    }
    this.deps.onClose(this);
  }

  status(): ProxyStatus | undefined {
    const n = this.node;
    if (!n) return undefined;
    const types: Partial<Record<XdsTypeUrl, TypeStatus>> = {};
    for (const [typeUrl, st] of this.types) {
      const ts: TypeStatus = {
        typeUrl,
        wildcard: st.wildcard,
        requested: st.active && !st.wildcard ? [...st.names].sort() : [],
        nackedResources: { ...st.nackedResources },
        resourceNames: [...st.held.keys()].sort(),
      };
      if (st.versionSent !== undefined) ts.versionSent = st.versionSent;
      if (st.versionAcked !== undefined) ts.versionAcked = st.versionAcked;
      if (st.nonce !== undefined) ts.nonce = st.nonce;
      if (st.nack !== undefined) ts.nack = st.nack;
      types[typeUrl] = ts;
    }
    return {
      streamId: this.streamId,
      nodeId: n.id,
      type: n.type,
      cluster: n.cluster,
      namespace: n.namespace,
      workload: n.workload,
      queued: this.queue.length,
      coalesced: this.queue.coalesced,
      ...(this.pinned ? { snapshot: this.pinned.version } : {}),
      types,
    };
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e: unknown) {
      this.log.error({ err: errorMessage(e) }, 'ads stream handler failed');
    }
  }

  private reject(code: grpc.status, details: string): void {
    this.log.warn({ details }, 'rejecting ads stream');
    this.closed = true;
    this.call.emit('error', Object.assign(new Error(details), { code, details }));
    this.deps.onClose(this);
  }

  private onRequest(raw: unknown): void {
    if (this.closed) return;
    const req = parseDiscoveryRequest(raw);
    if (!req) {
      this.reject(grpc.status.INVALID_ARGUMENT, 'malformed DiscoveryRequest');
      return;
    }
    if (!this.node) {
      const parsed = parseNode(req.node);
      if (!parsed.ok) {
        this.reject(grpc.status.INVALID_ARGUMENT, `unusable node: ${parsed.errors.join('; ')}`);
        return;
      }
      this.node = parsed.value;
      this.log.info({ node: this.node.id, proxyType: this.node.type }, 'proxy connected');
    }
    if (!isXdsTypeUrl(req.typeUrl)) {
      this.log.debug({ typeUrl: req.typeUrl }, 'ignoring request for unsupported type');
      return;
    }
    this.onTypedRequest(req.typeUrl, req);
  }

  private onTypedRequest(typeUrl: XdsTypeUrl, req: DiscoveryRequest): void {
    const st = this.types.get(typeUrl);
    if (!st) {
      // First request of this type on this stream: a subscription, whatever nonce it carries
      // (a reconnecting client sends the nonce it got from the previous stream).
      const wildcardType = WILDCARD_TYPES.includes(typeUrl);
      const wildcard = req.resourceNames.includes('*') || (wildcardType && req.resourceNames.length === 0);
      const names = new Set(req.resourceNames.filter((n) => n !== '*'));
      this.types.set(typeUrl, { wildcard, names, active: wildcard || names.size > 0, nackedResources: {}, held: new Map() });
      this.enqueueRequest(typeUrl);
      return;
    }
    if (st.nonce === undefined) {
      // Nothing sent yet: the queued answer will use the newest subscription.
      this.updateSubscription(st, req.resourceNames);
      this.enqueueRequest(typeUrl);
      return;
    }
    if (req.responseNonce !== st.nonce) {
      this.log.debug({ typeUrl, nonce: req.responseNonce, latest: st.nonce }, 'ignoring stale request');
      return;
    }
    if (req.errorDetail !== undefined) this.recordNack(typeUrl, st, req.errorDetail);
    else {
      st.versionAcked = st.versionSent;
      delete st.nack;
      st.nackedResources = {};
    }
    this.answered(typeUrl);
    if (this.updateSubscription(st, req.resourceNames)) this.enqueueRequest(typeUrl);
  }

  /** The proxy answered the latest response of `typeUrl`; the push converged once it answered all. */
  private answered(typeUrl: XdsTypeUrl): void {
    const c = this.converging;
    if (!c || !c.awaiting.delete(typeUrl) || c.awaiting.size > 0) return;
    this.converging = undefined;
    const node = this.node;
    if (node) this.deps.metrics?.converged(Math.max(0, Date.now() - c.changedAt) / 1000, node);
  }

  private recordNack(typeUrl: XdsTypeUrl, st: TypeState, detail: string): void {
    st.nack = detail;
    st.nackedResources = {};
    const parts = detail.split(/[\n;[\]]/);
    for (const name of st.held.keys()) {
      const part = parts.find((p) => p.includes(name));
      if (part !== undefined) st.nackedResources[name] = part.trim();
    }
    this.log.warn({ typeUrl, version: st.versionSent, detail }, 'proxy NACKed');
    const node = this.node;
    if (node && this.deps.onNack) this.deps.onNack(node, typeUrl, detail);
  }

  /** Applies the names of a follow-up request; true when the subscription changed. */
  private updateSubscription(st: TypeState, requested: string[]): boolean {
    const wildcard = requested.includes('*') || (st.wildcard && requested.length === 0);
    const names = new Set(requested.filter((n) => n !== '*'));
    const active = wildcard || names.size > 0;
    const same = wildcard === st.wildcard && active === st.active && names.size === st.names.size && [...names].every((n) => st.names.has(n));
    st.wildcard = wildcard;
    st.names = names;
    st.active = active;
    return !same;
  }

  private enqueueRequest(typeUrl: XdsTypeUrl): void {
    this.queue.offerRequest(typeUrl);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let item = this.queue.take(); item && !this.closed; item = this.queue.take()) await this.process(item);
    } catch (e: unknown) {
      this.log.error({ err: errorMessage(e) }, 'ads push failed');
    } finally {
      this.pumping = false;
    }
  }

  private async process(item: PushItem<S>): Promise<void> {
    if (item.kind === 'request') {
      this.pinned ??= this.deps.latest();
      await this.send(item.typeUrl, 'answer', this.pinned);
      return;
    }
    await this.pushSnapshot(item);
  }

  /** Sends every type a push may have changed, in push order, all from the push's snapshot. */
  private async pushSnapshot(item: QueuedPush<S>): Promise<void> {
    const node = this.node;
    if (!node) return;
    const snapshot = item.snapshot;
    this.pinned = snapshot;
    const full = item.scope === 'full' || item.fullFor?.(node) === true;
    this.log.debug({ reasons: item.reasons, version: snapshot.version, full }, 'push');
    const started = performance.now();
    const sent: XdsTypeUrl[] = [];
    for (const typeUrl of full ? PUSH_ORDER : [TYPE_URL.endpoint]) {
      if (this.closed) return;
      if (await this.send(typeUrl, 'push', snapshot)) sent.push(typeUrl);
    }
    if (sent.length === 0) return;
    const m = this.deps.metrics;
    if (m) {
      for (const typeUrl of sent) m.pushed(typeUrl);
      m.pushTime((performance.now() - started) / 1000);
    }
    const prev = this.converging;
    this.converging = {
      changedAt: Math.min(prev?.changedAt ?? item.changedAt, item.changedAt),
      awaiting: new Set([...(prev?.awaiting ?? []), ...sent]),
    };
  }

  /**
   * Generates (through the per-snapshot cache) and sends one type from `snapshot`.
   * - `answer` (a subscription request): every subscribed resource, even when the proxy holds
   *   exactly that already.
   * - `push`: nothing when the proxy holds exactly what the snapshot has (including content it
   *   NACKed); otherwise, for LDS and CDS, every resource, and for EDS and RDS only the changed ones.
   * Returns whether a response was written.
   */
  private async send(typeUrl: XdsTypeUrl, mode: 'answer' | 'push', snapshot: S): Promise<boolean> {
    const st = this.types.get(typeUrl);
    const node = this.node;
    if (!st || !st.active || !node) return false;
    let all: readonly EncodedResource[];
    try {
      all = this.deps.cache.get(node, typeUrl, snapshot).resources;
    } catch (e: unknown) {
      this.log.error({ typeUrl, err: errorMessage(e) }, 'generator failed');
      return false;
    }
    const wanted = st.wildcard ? all : all.filter((r) => st.names.has(r.name));
    const changed = wanted.filter((r) => st.held.get(r.name) !== r.hash);
    const complete = COMPLETE_TYPES.includes(typeUrl);
    const wantedNames = new Set(wanted.map((r) => r.name));
    const removed = complete && [...st.held.keys()].some((n) => !wantedNames.has(n));
    let out: readonly EncodedResource[];
    if (mode === 'answer') out = wanted;
    else if (changed.length === 0 && !removed) return false;
    else out = complete ? wanted : changed;
    const nonce = `${this.streamId}-${++this.nonceSeq}-${randomBytes(4).toString('hex')}`;
    const version = snapshot.version;
    st.nonce = nonce;
    st.versionSent = version;
    st.held = new Map(wanted.map((r) => [r.name, r.hash]));
    if (this.closed || this.call.writableEnded || this.call.destroyed) return false;
    this.log.debug({ typeUrl, version, nonce, count: out.length, of: wanted.length }, 'sending');
    const response = encodeDiscoveryResponse(
      { version_info: version, type_url: typeUrl, nonce },
      out.map((r) => r.field),
    );
    if (!this.call.write(response)) await this.drained();
    return true;
  }

  /** Resolves on 'drain', or when the stream goes away. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.call.off('drain', done);
        this.call.off('close', done);
        this.call.off('error', done);
        this.call.off('cancelled', done);
        resolve();
      };
      this.call.on('drain', done);
      this.call.on('close', done);
      this.call.on('error', done);
      this.call.on('cancelled', done);
    });
  }
}
