import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../common/errors.ts';
import { encodeDiscoveryResponse } from '../../xds/discovery-response-codec.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../xds/type-urls.ts';
import { type DiscoveryRequest, isXdsTypeUrl, parseDiscoveryRequest } from './discovery-request.ts';
import { AdsStream, type TypeState, WILDCARD_TYPES } from './ads-stream.ts';
import type { PushSnapshot } from './push-interface.ts';
import type { EncodedResource } from './resource-cache.ts';


/**
 * Types whose state-of-the-world response must list every resource (an absent one is deleted).
 * For EDS and RDS an absent resource is left alone, so a push sends only the changed ones.
 */
const COMPLETE_TYPES: readonly XdsTypeUrl[] = [TYPE_URL.listener, TYPE_URL.cluster];

/**
 * The state-of-the-world protocol (StreamAggregatedResources) on one ADS stream; queueing,
 * pinning and convergence are AdsStream's.
 */
export class AdsConnection<S extends PushSnapshot & object> extends AdsStream<S> {
  readonly api = 'sotw';

  protected onRequest(raw: unknown): void {
    if (this.closed) return;
    const req = parseDiscoveryRequest(raw);
    if (!req) {
      this.reject(grpc.status.INVALID_ARGUMENT, 'malformed DiscoveryRequest');
      return;
    }
    if (!this.identify(req.node)) return;
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


  /**
   * - `answer` (a subscription request): every subscribed resource, even when the proxy holds
   *   exactly that already.
   * - `push`: nothing when the proxy holds exactly what the snapshot has (including content it
   *   NACKed); otherwise, for LDS and CDS, every resource, and for EDS and RDS only the changed ones.
   */
  protected async send(typeUrl: XdsTypeUrl, mode: 'answer' | 'push', snapshot: S): Promise<boolean> {
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
    const nonce = this.nextNonce();
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
    await this.write(response);
    return true;
  }
}
