import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../common/errors.ts';
import { encodeDeltaDiscoveryResponse, encodeDeltaResourceField } from '../../xds/discovery-response-codec.ts';
import type { XdsTypeUrl } from '../../xds/type-urls.ts';
import { AdsStream, type TypeState, WILDCARD_TYPES } from './ads-stream.ts';
import { type DeltaDiscoveryRequest, parseDeltaDiscoveryRequest } from './delta-discovery-request.ts';
import { isXdsTypeUrl } from './discovery-request.ts';
import type { PushSnapshot } from './push-interface.ts';
import type { EncodedResource } from './resource-cache.ts';

/**
 * Delta `Resource` encodings by encoded resource: the cache shares one EncodedResource between
 * every stream with the same generation key, so each is wrapped once however many streams send it.
 * The version of a resource is the digest of its encoded bytes.
 */
const deltaFields = new WeakMap<EncodedResource, Buffer>();

function deltaField(r: EncodedResource): Buffer {
  let f = deltaFields.get(r);
  if (!f) {
    f = encodeDeltaResourceField(r.name, r.hash, r.field);
    deltaFields.set(r, f);
  }
  return f;
}

/**
 * The incremental protocol (DeltaAggregatedResources) on one ADS stream; queueing, pinning and
 * convergence are AdsStream's. Per type the stream keeps the subscription (wildcard for LDS/CDS
 * when the first request subscribes to nothing or names `*`; explicit names otherwise) and what the
 * proxy holds (name → version, seeded from `initial_resource_versions` on a new stream). A response
 * carries only the resources whose version differs from what the proxy holds and names in
 * `removed_resources` the held ones that are gone. A request carrying the latest nonce is an ACK,
 * or a NACK with `error_detail`; a stale nonce is not an answer, but its subscription changes
 * apply (they are incremental and would otherwise be lost). After a NACK the stream still counts
 * the rejected versions as held, so the same bytes are not sent again until they change.
 */
export class DeltaAdsConnection<S extends PushSnapshot & object> extends AdsStream<S> {
  readonly api = 'delta';

  protected onRequest(raw: unknown): void {
    if (this.closed) return;
    const req = parseDeltaDiscoveryRequest(raw);
    if (!req) {
      this.reject(grpc.status.INVALID_ARGUMENT, 'malformed DeltaDiscoveryRequest');
      return;
    }
    if (!this.identify(req.node)) return;
    if (!isXdsTypeUrl(req.typeUrl)) {
      this.log.debug({ typeUrl: req.typeUrl }, 'ignoring request for unsupported type');
      return;
    }
    const st = this.types.get(req.typeUrl);
    if (st) this.onFollowUp(req.typeUrl, st, req);
    else this.onFirst(req.typeUrl, req);
  }

  /** First request of a type on this stream: a subscription, with what the proxy already holds. */
  private onFirst(typeUrl: XdsTypeUrl, req: DeltaDiscoveryRequest): void {
    const wildcard = req.subscribe.includes('*') || (WILDCARD_TYPES.includes(typeUrl) && req.subscribe.length === 0);
    const names = new Set(req.subscribe.filter((n) => n !== '*'));
    const held = new Map<string, string>();
    for (const [name, version] of req.initialVersions) if (wildcard || names.has(name)) held.set(name, version);
    this.types.set(typeUrl, { wildcard, names, active: wildcard || names.size > 0, nackedResources: {}, held });
    this.enqueueRequest(typeUrl);
  }

  private onFollowUp(typeUrl: XdsTypeUrl, st: TypeState, req: DeltaDiscoveryRequest): void {
    if (req.responseNonce !== '' && st.nonce !== undefined) {
      if (req.responseNonce !== st.nonce) {
        this.log.debug({ typeUrl, nonce: req.responseNonce, latest: st.nonce }, 'ignoring stale ACK/NACK');
      } else {
        if (req.errorDetail !== undefined) this.recordNack(typeUrl, st, req.errorDetail);
        else {
          st.versionAcked = st.versionSent;
          delete st.nack;
          st.nackedResources = {};
        }
        this.answered(typeUrl);
      }
    }
    if (this.updateSubscription(st, req)) this.enqueueRequest(typeUrl);
  }

  /** Applies subscribe/unsubscribe; true when the proxy now wants something it did not. */
  private updateSubscription(st: TypeState, req: DeltaDiscoveryRequest): boolean {
    let grew = false;
    for (const name of req.unsubscribe) {
      if (name === '*') st.wildcard = false;
      else st.names.delete(name);
    }
    for (const name of req.subscribe) {
      if (name === '*') {
        grew ||= !st.wildcard;
        st.wildcard = true;
      } else if (!st.names.has(name)) {
        st.names.add(name);
        grew ||= !st.wildcard;
      }
    }
    // The proxy forgets what it unsubscribed from: a later subscription sends it again.
    if (!st.wildcard) for (const name of [...st.held.keys()]) if (!st.names.has(name)) st.held.delete(name);
    st.active = st.wildcard || st.names.size > 0;
    return grew;
  }

  /**
   * Sends the subscribed resources whose version differs from what the proxy holds, and the
   * removal of held ones that are gone. Nothing when there is neither, except for the first answer
   * of a type on the stream, which is always sent (possibly empty) so the proxy knows it is current.
   */
  protected async send(typeUrl: XdsTypeUrl, mode: 'answer' | 'push', snapshot: S): Promise<boolean> {
    const st = this.types.get(typeUrl);
    const node = this.node;
    if (!st || !node) return false;
    let all: readonly EncodedResource[];
    try {
      all = this.deps.cache.get(node, typeUrl, snapshot).resources;
    } catch (e: unknown) {
      this.log.error({ typeUrl, err: errorMessage(e) }, 'generator failed');
      return false;
    }
    const wanted = st.wildcard ? all : all.filter((r) => st.names.has(r.name));
    const changed = wanted.filter((r) => st.held.get(r.name) !== r.hash);
    const wantedNames = new Set(wanted.map((r) => r.name));
    const removed = [...st.held.keys()].filter((n) => !wantedNames.has(n)).sort();
    const first = mode === 'answer' && st.nonce === undefined && st.active;
    if (changed.length === 0 && removed.length === 0 && !first) return false;
    const nonce = this.nextNonce();
    const version = snapshot.version;
    st.nonce = nonce;
    st.versionSent = version;
    for (const r of changed) st.held.set(r.name, r.hash);
    for (const n of removed) st.held.delete(n);
    if (this.closed || this.call.writableEnded || this.call.destroyed) return false;
    this.log.debug({ typeUrl, version, nonce, count: changed.length, removed: removed.length, of: wanted.length }, 'sending delta');
    const response = encodeDeltaDiscoveryResponse(
      { system_version_info: version, type_url: typeUrl, nonce, removed_resources: removed },
      changed.map(deltaField),
    );
    await this.write(response);
    return true;
  }
}
