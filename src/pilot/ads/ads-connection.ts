import { createHash, randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/log.ts';
import { errorMessage } from '../../common/errors.ts';
import { type ProxyNode, parseNode } from '../../xds/node.ts';
import type { XdsResource } from '../../xds/resources.ts';
import { PUSH_ORDER, TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import { type DiscoveryRequest, isXdsTypeUrl, parseDiscoveryRequest } from './discovery-request.ts';
import { type PushItem, PushQueue } from './push-queue.ts';

export type ResourceGenerator = (node: ProxyNode, typeUrl: XdsTypeUrl) => XdsResource[];

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
  /** Names of the resources in the latest response sent. */
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
  hashSent?: string;
  nack?: string;
  nackedResources: Record<string, string>;
  sentNames: string[];
}

export interface ConnectionDeps {
  generate: ResourceGenerator;
  logger: Logger;
  queueLimit: number;
  onNack?: ((node: ProxyNode, typeUrl: string, detail: string) => void) | undefined;
  onClose: (c: AdsConnection) => void;
}

type AdsCall = grpc.ServerDuplexStream<unknown, unknown>;

/** Types for which an empty first request means "everything". */
const WILDCARD_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.cluster];

let nextStreamId = 1;

/**
 * The state-of-the-world protocol on one ADS stream. The gRPC handler feeds it requests; `push()`
 * feeds it model changes. All sends go through a bounded queue drained by one async loop that waits
 * for 'drain' when the transport pushes back, so a slow proxy stalls only its own stream.
 * Never throws out of a stream callback: failures are logged and end the stream at worst.
 */
export class AdsConnection {
  readonly streamId = nextStreamId++;
  private node: ProxyNode | undefined;
  private readonly types = new Map<XdsTypeUrl, TypeState>();
  private readonly queue: PushQueue;
  private pumping = false;
  private closed = false;
  private nonceSeq = 0;
  private readonly log: Logger;

  constructor(
    private readonly call: AdsCall,
    private readonly deps: ConnectionDeps,
  ) {
    this.queue = new PushQueue(deps.queueLimit);
    this.log = deps.logger.child({ stream: this.streamId });
    call.on('data', (raw: unknown) => this.guard(() => this.onRequest(raw)));
    call.on('end', () => this.guard(() => this.close('client ended the stream')));
    call.on('cancelled', () => this.guard(() => this.close('cancelled')));
    call.on('error', (e: unknown) => this.guard(() => this.close(`stream error: ${errorMessage(e)}`)));
    call.on('close', () => this.guard(() => this.close('closed')));
  }

  /** The model changed: regenerate every subscribed type, sending only what changed. */
  push(reason: string): void {
    if (this.closed || !this.node) return;
    this.queue.offerPush(reason);
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
        resourceNames: [...st.sentNames],
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
      this.types.set(typeUrl, { wildcard, names, active: wildcard || names.size > 0, nackedResources: {}, sentNames: [] });
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
    if (this.updateSubscription(st, req.resourceNames)) this.enqueueRequest(typeUrl);
  }

  private recordNack(typeUrl: XdsTypeUrl, st: TypeState, detail: string): void {
    st.nack = detail;
    st.nackedResources = {};
    const parts = detail.split(/[\n;[\]]/);
    for (const name of st.sentNames) {
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

  private async process(item: PushItem): Promise<void> {
    if (item.kind === 'request') return this.send(item.typeUrl, true);
    this.log.debug({ reasons: item.reasons }, 'push');
    for (const typeUrl of PUSH_ORDER) {
      if (this.closed) return;
      await this.send(typeUrl, false);
    }
  }

  /**
   * Generates and sends one type. `force` answers a subscription request even when the content is
   * what the stream already has; otherwise identical content (including content the proxy NACKed)
   * is not sent again.
   */
  private async send(typeUrl: XdsTypeUrl, force: boolean): Promise<void> {
    const st = this.types.get(typeUrl);
    const node = this.node;
    if (!st || !st.active || !node) return;
    let resources: XdsResource[];
    try {
      resources = this.deps.generate(node, typeUrl);
    } catch (e: unknown) {
      this.log.error({ typeUrl, err: errorMessage(e) }, 'generator failed');
      return;
    }
    resources = resources.filter((r) => {
      if (r.resource['@type'] === typeUrl) return st.wildcard || st.names.has(r.name);
      this.log.error({ typeUrl, name: r.name, type: r.resource['@type'] }, 'generator returned a resource of another type');
      return false;
    });
    const hash = createHash('sha256')
      .update(JSON.stringify(resources.map((r) => [r.name, r.resource])))
      .digest('hex');
    if (!force && hash === st.hashSent) return;
    const nonce = `${this.streamId}-${++this.nonceSeq}-${randomBytes(4).toString('hex')}`;
    const version = hash.slice(0, 16);
    st.nonce = nonce;
    st.versionSent = version;
    st.hashSent = hash;
    st.sentNames = resources.map((r) => r.name);
    const response = { version_info: version, type_url: typeUrl, nonce, resources: resources.map((r) => r.resource) };
    if (this.closed || this.call.writableEnded || this.call.destroyed) return;
    this.log.debug({ typeUrl, version, nonce, count: resources.length }, 'sending');
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
