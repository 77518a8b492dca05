import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { MeshfedError, errorMessage } from '../common/errors.ts';
import { type Logger, createLogger } from '../common/log.ts';
import { ADS_API_TYPES, type AdsApiType, isAdsApiType } from './ads-api-type.ts';
import { deltaAnswer, deltaInitialRequest, deltaSubscriptionChange } from './ads-client-delta.ts';
import { type AnyState, type Kind, TypeState } from './ads-client-state.ts';
import type { ClusterConfig, ClusterLoadAssignmentConfig, ListenerConfig, ProxyConfig, RouteTable } from './config-types.ts';
import { type NodeIdentityInput, nodeMessage } from './node.ts';
import { type RawDeltaDiscoveryResponse, type RawDiscoveryResponse, rawAdsClientConstructor } from './discovery-response-raw.ts';
import { TYPE_URL } from './type-urls.ts';
import { validateCluster } from './validate/cluster.ts';
import { validateClusterLoadAssignment } from './validate/cluster-load-assignment.ts';
import { validateListener } from './validate/listener.ts';
import { validateRouteConfiguration } from './validate/route-configuration.ts';
import { RouteTableBase } from './route-table-delta.ts';

/** Options of an AdsClient; validated once by the constructor, then frozen. */
export interface AdsClientOptions {
  /** `host:port` of Pilot's ADS endpoint. */
  target: string;
  credentials: grpc.ChannelCredentials;
  /** e.g. `grpc.ssl_target_name_override` for TLS to an address. */
  channelOptions?: grpc.ChannelOptions;
  /** Identity sent on the first request of every stream. */
  node: NodeIdentityInput;
  logger?: Logger;
  /** First reconnect delay (default 500 ms); doubles per failed attempt, with jitter. */
  initialBackoffMs?: number;
  /** Cap of the reconnect delay (default 30 s). */
  maxBackoffMs?: number;
  /**
   * Envoy's `ads_config.api_type`: `GRPC` (state of the world, StreamAggregatedResources, the
   * default) or `DELTA_GRPC` (incremental, DeltaAggregatedResources).
   */
  apiType?: AdsApiType;
}


/** Invalid AdsClient options (a programmer error: thrown by the constructor). */
export class AdsClientOptionsError extends MeshfedError {
  constructor(message: string) {
    super('ADS_CLIENT_OPTIONS_INVALID', message);
  }
}

/** Events of an AdsClient. */
export interface AdsClientEvents {
  /** After every response that changed the accepted config. */
  config: [cfg: ProxyConfig];
  /** A response (partly) rejected; `errors` name each bad resource. */
  nack: [typeUrl: string, errors: string[]];
  /** The first response of a stream arrived. */
  connected: [];
  /** The stream ended; the client reconnects unless closed. */
  disconnected: [reason: string];
}

const CODE_INVALID_ARGUMENT = 3;

/** An ADS stream whose responses arrive with their resources still encoded (discovery-response-raw.ts). */
type AdsStream = grpc.ClientDuplexStream<unknown, RawDiscoveryResponse | RawDeltaDiscoveryResponse>;

const isDelta = (r: RawDiscoveryResponse | RawDeltaDiscoveryResponse): r is RawDeltaDiscoveryResponse => 'removedResources' in r;

/**
 * The delay before reconnect attempt `attempt` (0 for the first): exponential from `initialMs`,
 * capped at `maxMs`, with "equal jitter" (a uniform draw in the upper half of the ceiling), so
 * that proxies cut off together by a control-plane outage do not all come back in the same
 * instant, and none waits less than half the ceiling.
 */
export function reconnectDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * A proxy's ADS client (xDS v3, state of the world or, with `apiType: 'DELTA_GRPC'`, delta). It
 * subscribes to CDS and LDS as wildcards, then
 * to the EDS names its EDS clusters use and the RDS names its listeners use, widening and narrowing
 * as config changes. Every resource is validated (src/xds/validate): valid ones replace their
 * previous value, invalid ones keep the last good value and the response is NACKed naming them.
 * As Envoy does, a resource whose encoded bytes equal the accepted version of its name is neither
 * decoded nor validated again (responses are decoded down to their `Any`s, discovery-response-raw.ts),
 * and a changed RouteConfiguration is re-validated per changed virtual host (route-table-delta.ts).
 * The stream reconnects with jittered exponential backoff until `close()`, re-requesting every type
 * with its last accepted version. No exception ever leaves a stream callback.
 *
 * Delta (ads-client-delta.ts): a response carries only changed resources, each with a version, and
 * names removed ones; they go through the same validators with the same keep-last-good and NACK
 * semantics; subscriptions change by names added and dropped; a new stream tells the server the
 * versions it holds (`initial_resource_versions`) so only what differs is sent again.
 */
export class AdsClient extends EventEmitter<AdsClientEvents> {
  private readonly opts: Readonly<Required<Omit<AdsClientOptions, 'logger' | 'channelOptions'>>> & {
    channelOptions: grpc.ChannelOptions;
  };
  private readonly log: Logger;
  private readonly lds = new TypeState<ListenerConfig>({
    kind: 'listener',
    typeUrl: TYPE_URL.listener,
    validate: validateListener,
    nameOf: (v) => v.name,
    removesAbsent: true,
  });
  private readonly routes = new TypeState<RouteTable>({
    kind: 'route',
    typeUrl: TYPE_URL.route,
    validate: validateRouteConfiguration,
    nameOf: (v) => v.name,
    removesAbsent: false,
    deltaBase: (bytes, value) => RouteTableBase.of(bytes, value),
  });
  private readonly clusters = new TypeState<ClusterConfig>({
    kind: 'cluster',
    typeUrl: TYPE_URL.cluster,
    validate: validateCluster,
    nameOf: (v) => v.name,
    removesAbsent: true,
  });
  private readonly endpoints = new TypeState<ClusterLoadAssignmentConfig>({
    kind: 'endpoint',
    typeUrl: TYPE_URL.endpoint,
    validate: validateClusterLoadAssignment,
    nameOf: (v) => v.clusterName,
    removesAbsent: false,
  });
  private client: grpc.Client | undefined;
  private call: AdsStream | undefined;
  private sentNode = false;
  private streamConnected = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private snapshot: ProxyConfig | undefined;

  constructor(opts: AdsClientOptions) {
    super();
    if (typeof opts.target !== 'string' || !/^.+:\d{1,5}$/.test(opts.target)) throw new AdsClientOptionsError('invalid target');
    if (!(opts.credentials instanceof grpc.ChannelCredentials)) throw new AdsClientOptionsError('invalid credentials');
    if (typeof opts.node !== 'object' || opts.node === null) throw new AdsClientOptionsError('invalid node');
    const initialBackoffMs = opts.initialBackoffMs ?? 500;
    const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    if (!Number.isInteger(initialBackoffMs) || initialBackoffMs < 1) throw new AdsClientOptionsError('invalid initialBackoffMs');
    if (!Number.isInteger(maxBackoffMs) || maxBackoffMs < initialBackoffMs) throw new AdsClientOptionsError('invalid maxBackoffMs');
    const apiType = opts.apiType ?? 'GRPC';
    if (!isAdsApiType(apiType)) throw new AdsClientOptionsError(`invalid apiType: must be one of ${ADS_API_TYPES.join(', ')}`);
    this.opts = Object.freeze({
      target: opts.target,
      credentials: opts.credentials,
      channelOptions: { ...(opts.channelOptions ?? {}) },
      node: opts.node,
      initialBackoffMs,
      maxBackoffMs,
      apiType,
    });
    this.log = (opts.logger ?? createLogger('ads-client')).child({ xds: opts.target });
  }

  /** Opens the stream. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    const Ctor = rawAdsClientConstructor();
    this.client = new Ctor(this.opts.target, this.opts.credentials, this.opts.channelOptions);
    this.openStream();
  }

  /** Ends the stream and the channel; nothing keeps the process alive afterwards. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const call = this.call;
    this.call = undefined;
    try {
      call?.cancel();
      this.client?.close();
    } catch (e: unknown) {
      this.log.debug({ err: errorMessage(e) }, 'closing ads client failed');
    }
  }

  /** The last good config (empty before the first response). The returned maps are snapshots. */
  current(): ProxyConfig {
    if (!this.snapshot) this.snapshot = this.buildSnapshot();
    return this.snapshot;
  }

  /** CDS and LDS received, and every EDS / RDS name they reference received too. */
  ready(): boolean {
    if (!this.clusters.received || !this.lds.received) return false;
    for (const n of this.wantedEds()) if (!this.endpoints.has(n)) return false;
    for (const n of this.wantedRds()) if (!this.routes.has(n)) return false;
    return true;
  }

  /**
   * Resources decoded and validated so far, per type (for /debug and tests). A resource whose
   * bytes equal the accepted version of its name is not decoded, so this counts changed ones.
   */
  decodedResources(): Readonly<Record<Kind, number>> {
    return { listener: this.lds.decoded, route: this.routes.decoded, cluster: this.clusters.decoded, endpoint: this.endpoints.decoded };
  }

  /** Virtual hosts decoded and validated by per-virtual-host RDS updates (route-table-delta.ts), for tests. */
  decodedVirtualHosts(): number {
    return this.routes.partsDecoded;
  }

  private buildSnapshot(): ProxyConfig {
    return Object.freeze({
      listeners: this.lds.copy(),
      routes: this.routes.copy(),
      clusters: this.clusters.copy(),
      endpoints: this.endpoints.copy(),
      versions: Object.freeze({
        listener: this.lds.version,
        route: this.routes.version,
        cluster: this.clusters.version,
        endpoint: this.endpoints.version,
      }),
    });
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e: unknown) {
      this.log.error({ err: errorMessage(e) }, `ads client ${what} failed`);
    }
  }

  private openStream(): void {
    if (this.closed || !this.client) return;
    const name = this.opts.apiType === 'DELTA_GRPC' ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    const method = (this.client as unknown as Record<string, unknown>)[name];
    if (typeof method !== 'function') throw new Error(`ADS client has no ${name}`);
    const call = method.call(this.client) as AdsStream;
    this.call = call;
    this.sentNode = false;
    this.streamConnected = false;
    for (const st of this.states()) {
      st.nonce = '';
      st.requested = false;
    }
    call.on('data', (d: RawDiscoveryResponse | RawDeltaDiscoveryResponse) =>
      this.guard('response handling', () => (isDelta(d) ? this.onDeltaResponse(call, d) : this.onResponse(call, d))),
    );
    call.on('error', (e: unknown) => this.guard('stream error', () => this.log.debug({ err: errorMessage(e) }, 'ads stream error')));
    call.on('status', (s: grpc.StatusObject) => this.guard('stream end', () => this.onStreamEnd(call, `${grpc.status[s.code]}: ${s.details}`)));
    // Re-request every type with its last accepted version (first start: CDS and LDS wildcards).
    this.sendRequest(this.clusters);
    this.sendRequest(this.lds);
    if (this.endpoints.names.size > 0) this.sendRequest(this.endpoints);
    if (this.routes.names.size > 0) this.sendRequest(this.routes);
  }

  private get delta(): boolean {
    return this.opts.apiType === 'DELTA_GRPC';
  }

  /** Writes one request, with the node when it is the stream's first. */
  private write(st: AnyState, req: Record<string, unknown>): void {
    const call = this.call;
    if (!call) return;
    if (!this.sentNode) {
      req['node'] = nodeMessage(this.opts.node);
      this.sentNode = true;
    }
    st.requested = true;
    call.write(req);
  }

  private onStreamEnd(call: AdsStream, reason: string): void {
    if (call !== this.call) return;
    this.call = undefined;
    if (this.closed) return;
    this.log.warn({ reason }, 'ads stream ended');
    this.emit('disconnected', reason);
    const delay = reconnectDelayMs(this.attempt, this.opts.initialBackoffMs, this.opts.maxBackoffMs);
    this.attempt++;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.guard('reconnect', () => this.openStream());
    }, delay);
  }

  private states(): AnyState[] {
    return [this.clusters, this.endpoints, this.lds, this.routes];
  }

  private stateFor(typeUrl: string): AnyState | undefined {
    return this.states().find((s) => s.desc.typeUrl === typeUrl);
  }

  /**
   * SotW: the request of `st` (names, last accepted version, latest nonce; a NACK with
   * `errorDetail`). Delta: the first request of `st` on the stream.
   */
  private sendRequest(st: AnyState, errorDetail?: string): void {
    if (this.delta) {
      this.write(st, deltaInitialRequest(st, st === this.clusters || st === this.lds));
      return;
    }
    const req: Record<string, unknown> = {
      type_url: st.desc.typeUrl,
      version_info: st.version,
      response_nonce: st.nonce,
      resource_names: [...st.names].sort(),
    };
    if (errorDetail !== undefined) req['error_detail'] = { code: CODE_INVALID_ARGUMENT, message: errorDetail };
    this.write(st, req);
  }

  /** The state a response of `call` is for; undefined when it is to be dropped. */
  private receiving(call: AdsStream, typeUrl: string): AnyState | undefined {
    if (call !== this.call || this.closed) return undefined;
    if (!this.streamConnected) {
      this.streamConnected = true;
      this.attempt = 0;
      this.emit('connected');
    }
    const st = this.stateFor(typeUrl);
    if (!st) this.log.warn({ typeUrl }, 'response for a type never requested');
    return st;
  }

  private onDeltaResponse(call: AdsStream, raw: RawDeltaDiscoveryResponse): void {
    const typeUrl = raw.typeUrl;
    const st = this.receiving(call, typeUrl);
    if (!st) return;
    const version = raw.systemVersionInfo;
    st.nonce = raw.nonce;
    const applied = st.apply(raw.resources, false);
    const removed = st.remove(raw.removedResources);
    st.received = true;
    const errors = applied.errors;
    if (errors.length > 0) {
      this.log.warn({ typeUrl, version, errors }, 'NACK');
      this.write(st, deltaAnswer(st, raw.nonce, errors.join('\n')));
    } else {
      st.version = version;
      this.write(st, deltaAnswer(st, raw.nonce));
    }
    this.afterResponse(typeUrl, errors, applied.changed || removed);
  }

  private onResponse(call: AdsStream, raw: RawDiscoveryResponse): void {
    const typeUrl = raw.typeUrl;
    const st = this.receiving(call, typeUrl);
    if (!st) return;
    const version = raw.versionInfo;
    st.nonce = raw.nonce;
    const { changed, errors } = st.apply(raw.resources);
    st.received = true;
    if (errors.length > 0) {
      this.log.warn({ typeUrl, version, errors }, 'NACK');
      this.sendRequest(st, errors.join('\n'));
    } else {
      st.version = version;
      this.sendRequest(st);
    }
    this.afterResponse(typeUrl, errors, changed);
  }

  /** Follows the subscriptions, then tells listeners. */
  private afterResponse(typeUrl: string, errors: string[], changed: boolean): void {
    const subsChanged = this.updateSubscriptions();
    this.snapshot = undefined;
    if (errors.length > 0) this.emit('nack', typeUrl, errors);
    // current() copies every map: only built when someone listens (or asks for it).
    if ((changed || subsChanged) && this.listenerCount('config') > 0) this.emit('config', this.current());
  }

  private wantedEds(): Set<string> {
    const out = new Set<string>();
    for (const c of this.clusters.values()) if (c.type === 'EDS') out.add(c.edsServiceName);
    return out;
  }

  private wantedRds(): Set<string> {
    const out = new Set<string>();
    for (const l of this.lds.values()) {
      for (const fc of l.filterChains) if (fc.kind === 'http' && fc.routeConfigName !== undefined) out.add(fc.routeConfigName);
    }
    return out;
  }

  /**
   * Points the EDS and RDS subscriptions at what clusters and listeners reference. Narrowing drops
   * the resources no longer referenced. Returns whether any accepted resource was dropped.
   */
  private updateSubscriptions(): boolean {
    let dropped = false;
    const pairs: [AnyState, Set<string>][] = [
      [this.endpoints, this.wantedEds()],
      [this.routes, this.wantedRds()],
    ];
    for (const [st, wanted] of pairs) {
      const same = wanted.size === st.names.size && [...wanted].every((n) => st.names.has(n));
      if (same) continue;
      const change = this.delta && st.requested ? deltaSubscriptionChange(st, wanted) : undefined;
      st.names = wanted;
      for (const name of st.acceptedNames()) {
        if (!wanted.has(name)) {
          st.delete(name);
          dropped = true;
        }
      }
      if (change) this.write(st, change);
      else if (!this.delta && (wanted.size > 0 || st.requested)) this.sendRequest(st);
      else if (this.delta && !st.requested && wanted.size > 0) this.sendRequest(st);
    }
    return dropped;
  }
}
