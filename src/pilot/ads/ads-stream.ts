import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.ts';
import { errorMessage } from '../../common/errors.ts';
import { type ProxyNode, parseNode } from '../../xds/node.ts';
import { PUSH_ORDER, TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import type { AdsMetrics, PushRequest, PushSnapshot } from './push-interface.ts';
import { type PushItem, PushQueue, type QueuedPush } from './push-queue.ts';
import type { ResourceCache } from './resource-cache.ts';

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
  /** The ADS protocol of the stream: state of the world or delta. */
  api: 'sotw' | 'delta';
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

export interface TypeState {
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
  onClose: (c: AdsStream<S>) => void;
  /** Checks the identified node against the transport's peer (15012); absent: every node is accepted. */
  authorize?: StreamAuthorizer | undefined;
}

/** Why a stream's node is refused: a gRPC status and its details. */
export interface StreamRefusal {
  code: grpc.status;
  details: string;
}

/**
 * Called once per stream, with the node of its first request, before anything is sent. Returns
 * undefined to accept it, or a refusal that ends the stream with that status.
 */
export type StreamAuthorizer = (call: AdsCall, node: ProxyNode) => StreamRefusal | undefined;

export type AdsCall = grpc.ServerDuplexStream<unknown, unknown>;

/** Types for which an empty first request means "everything". */
export const WILDCARD_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.cluster];

let nextStreamId = 1;

/**
 * What both ADS protocols (state of the world, ads-connection.ts; delta, ads-delta-connection.ts)
 * share on one stream: the node, per-type protocol state, the bounded push queue and its single
 * drain loop, snapshot pinning, convergence and metrics. Subclasses parse requests and build
 * responses. All sends go through the queue, drained by one async loop that waits for 'drain' when
 * the transport pushes back, so a slow proxy stalls only its own stream.
 *
 * Snapshot pinning: the stream sends from one snapshot at a time. Taking a push pins its snapshot,
 * and every type of that push, and every subscription answered until the next push is taken, is
 * generated from it, even when newer snapshots arrive while the stream waits for flow control. A
 * push is always finished before the next is taken; pushes that queue up meanwhile merge into one
 * of the newest snapshot (see PushQueue), so a slow stream jumps ahead whole snapshots at a time.
 * Never throws out of a stream callback: failures are logged and end the stream at worst.
 */
export abstract class AdsStream<S extends PushSnapshot & object> {
  readonly streamId = nextStreamId++;
  abstract readonly api: ProxyStatus['api'];
  protected node: ProxyNode | undefined;
  protected readonly types = new Map<XdsTypeUrl, TypeState>();
  private readonly queue: PushQueue<S>;
  private pinned: S | undefined;
  /** The push whose responses the proxy has not all answered yet (for convergence time). */
  private converging: { changedAt: number; awaiting: Set<XdsTypeUrl> } | undefined;
  private pumping = false;
  protected closed = false;
  private nonceSeq = 0;
  /**
   * Random per stream, so a nonce of an earlier stream or server (a reconnecting proxy sends the
   * last one it got) never equals one of this stream; the sequence makes them unique within it.
   */
  private readonly nonceSalt = randomBytes(4).toString('hex');
  protected readonly log: Logger;

  constructor(
    protected readonly call: AdsCall,
    protected readonly deps: ConnectionDeps<S>,
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
      api: this.api,
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


  /** Handles one decoded request message of this protocol. */
  protected abstract onRequest(raw: unknown): void;

  /**
   * Generates (through the per-snapshot cache) and sends one type from `snapshot`: `answer` for a
   * subscription request, `push` for a push. Returns whether a response was written.
   */
  protected abstract send(typeUrl: XdsTypeUrl, mode: 'answer' | 'push', snapshot: S): Promise<boolean>;

  protected guard(fn: () => void): void {
    try {
      fn();
    } catch (e: unknown) {
      this.log.error({ err: errorMessage(e) }, 'ads stream handler failed');
    }
  }

  protected reject(code: grpc.status, details: string): void {
    this.log.warn({ details }, 'rejecting ads stream');
    this.closed = true;
    this.call.emit('error', Object.assign(new Error(details), { code, details }));
    this.deps.onClose(this);
  }


  /** Identifies the proxy from the first request's node; false (the stream is rejected) when unusable. */
  protected identify(rawNode: unknown): boolean {
    if (this.node) return true;
    const parsed = parseNode(rawNode);
    if (!parsed.ok) {
      this.reject(grpc.status.INVALID_ARGUMENT, `unusable node: ${parsed.errors.join('; ')}`);
      return false;
    }
    const refusal = this.deps.authorize?.(this.call, parsed.value);
    if (refusal) {
      this.log.warn({ node: parsed.value.id, code: refusal.code, details: refusal.details }, 'proxy refused');
      this.reject(refusal.code, refusal.details);
      return false;
    }
    this.node = parsed.value;
    this.log.info({ node: this.node.id, proxyType: this.node.type }, 'proxy connected');
    return true;
  }

  /** The proxy answered the latest response of `typeUrl`; the push converged once it answered all. */
  protected answered(typeUrl: XdsTypeUrl): void {
    const c = this.converging;
    if (!c || !c.awaiting.delete(typeUrl) || c.awaiting.size > 0) return;
    this.converging = undefined;
    const node = this.node;
    if (node) this.deps.metrics?.converged(Math.max(0, Date.now() - c.changedAt) / 1000, node);
  }

  protected recordNack(typeUrl: XdsTypeUrl, st: TypeState, detail: string): void {
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

  protected enqueueRequest(typeUrl: XdsTypeUrl): void {
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

  /** A fresh nonce for a response of this stream. */
  protected nextNonce(): string {
    return `${this.streamId}-${++this.nonceSeq}-${this.nonceSalt}`;
  }

  /** Writes one encoded response, waiting for 'drain' when the transport pushes back. */
  protected async write(response: Buffer): Promise<void> {
    if (!this.call.write(response)) await this.drained();
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
