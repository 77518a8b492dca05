import * as grpc from '@grpc/grpc-js';
import { type Logger, createLogger } from '../../common/log.ts';
import { adsServiceWithEncodedResponses } from '../../xds/discovery-response-codec.ts';
import type { ProxyNode } from '../../xds/node.ts';
import { AdsConnection } from './ads-connection.ts';
import { DeltaAdsConnection } from './ads-delta-connection.ts';
import type { AdsStream, ProxyStatus, StreamAuthorizer } from './ads-stream.ts';
import { AdsOptionsError } from './ads-errors.ts';
import type { AdsMetrics, GenerationKey, PushRequest, PushSnapshot, ResourceGenerator } from './push-interface.ts';
import { ResourceCache } from './resource-cache.ts';

/** Options of an AdsServer; validated once by the constructor. */
export interface AdsServerOptions<S extends PushSnapshot & object> {
  /** Pure resource generator over a snapshot; called at most once per (snapshot, type, generation key). */
  generate: ResourceGenerator<S>;
  /** Which proxies share generated resources; default: none share (one generation per stream). */
  generationKey?: GenerationKey<S>;
  /** What streams answer from until the first `push`. */
  snapshot: S;
  logger?: Logger;
  /** Per-stream bounded queue of pending pushes (default 16). */
  queueLimit?: number;
  /** Called for every NACK (a request with `error_detail` answering the latest response). */
  onNack?: (node: ProxyNode, typeUrl: string, detail: string) => void;
  metrics?: AdsMetrics;
}

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

const NO_SHARING: GenerationKey = () => undefined;

/**
 * Pilot's push server: envoy.service.discovery.v3.AggregatedDiscoveryService, state of the world
 * (StreamAggregatedResources) and incremental (DeltaAggregatedResources) side by side, both from
 * the same pinned snapshot per push and the same generator output cache.
 * It is the only holder of protocol state (subscriptions, versions, nonces, ACK/NACK). Callers own
 * the grpc.Server: `addTo` registers the service, `push` is called with each new snapshot, `close`
 * ends every open stream (the grpc.Server is shut down by its owner).
 *
 * The push contract: every response carries `version_info` = the version of the snapshot it was
 * generated from, and a stream never mixes snapshots within a push (see AdsConnection). Generated
 * resources are encoded once per (snapshot, type, generation key) and shared by every stream with
 * that key; the cache goes with the snapshot.
 */
export class AdsServer<S extends PushSnapshot & object> {
  private readonly connections = new Set<AdsStream<S>>();
  private readonly cache: ResourceCache<S>;
  private readonly logger: Logger;
  private readonly queueLimit: number;
  private readonly onNack: AdsServerOptions<S>['onNack'];
  private readonly metrics: AdsMetrics | undefined;
  private latest: S;
  private closed = false;

  constructor(opts: AdsServerOptions<S>) {
    if (typeof opts.generate !== 'function') throw new AdsOptionsError('invalid generate: must be a function');
    if (opts.generationKey !== undefined && typeof opts.generationKey !== 'function') {
      throw new AdsOptionsError('invalid generationKey: must be a function');
    }
    if (typeof opts.snapshot !== 'object' || opts.snapshot === null || typeof opts.snapshot.version !== 'string') {
      throw new AdsOptionsError('invalid snapshot: must be an object with a string version');
    }
    const queueLimit = opts.queueLimit ?? 16;
    if (!Number.isInteger(queueLimit) || queueLimit < 1) throw new AdsOptionsError('invalid queueLimit');
    this.logger = opts.logger ?? createLogger('pilot-ads');
    this.cache = new ResourceCache(opts.generate, opts.generationKey ?? NO_SHARING, this.logger);
    this.latest = opts.snapshot;
    this.queueLimit = queueLimit;
    this.onNack = opts.onNack;
    this.metrics = opts.metrics;
  }

  /**
   * Registers the ADS service on a grpc.Server (plain or TLS): state of the world and delta.
   * `authorize` checks every stream's node on this server (15012: against the peer certificate).
   */
  addTo(server: grpc.Server, authorize?: StreamAuthorizer): void {
    server.addService(adsServiceWithEncodedResponses(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.onStream(call, 'sotw', authorize),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.onStream(call, 'delta', authorize),
    });
  }

  /**
   * A new snapshot: every connected proxy gets a push of it (queued per stream, merged when the
   * stream is behind). Types whose content did not change for a proxy are not sent.
   */
  push(p: PushRequest<S>): void {
    this.latest = p.snapshot;
    for (const c of this.connections) c.push(p);
  }

  /** The newest snapshot pushed. */
  snapshot(): S {
    return this.latest;
  }

  /** Generator calls made so far (shared results count once). */
  generatorCalls(): number {
    return this.cache.generated;
  }

  /** One entry per connected proxy that has identified itself. */
  status(): ProxyStatus[] {
    const out: ProxyStatus[] = [];
    for (const c of this.connections) {
      const s = c.status();
      if (s) out.push(s);
    }
    return out.sort((a, b) => a.streamId - b.streamId);
  }

  /** Ends every open stream; new streams are refused with UNAVAILABLE afterwards. */
  close(): void {
    this.closed = true;
    for (const c of [...this.connections]) c.close();
  }

  private onStream(call: grpc.ServerDuplexStream<unknown, unknown>, api: 'sotw' | 'delta', authorize: StreamAuthorizer | undefined): void {
    if (this.closed) {
      call.emit('error', Object.assign(new Error('ADS server closed'), { code: grpc.status.UNAVAILABLE }));
      return;
    }
    const deps = {
      cache: this.cache,
      latest: () => this.latest,
      logger: this.logger,
      queueLimit: this.queueLimit,
      metrics: this.metrics,
      onNack: this.onNack,
      onClose: (c: AdsStream<S>) => this.connections.delete(c),
      authorize,
    };
    const conn = api === 'delta' ? new DeltaAdsConnection<S>(call, deps) : new AdsConnection<S>(call, deps);
    this.connections.add(conn);
  }
}
