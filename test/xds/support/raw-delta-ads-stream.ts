import * as grpc from '@grpc/grpc-js';
import { serviceClient } from '../../../src/xds/protos.ts';
import { wireNode } from './raw-ads-stream.ts';

/** One `Resource` of a decoded DeltaDiscoveryResponse. */
export interface RawDeltaResource {
  name: string;
  version: string;
  resource: Record<string, unknown>;
}

/** A decoded DeltaDiscoveryResponse as a raw client sees it. */
export interface RawDeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: RawDeltaResource[];
  removed_resources: string[];
}

export interface RawDeltaRequest {
  typeUrl: string;
  subscribe?: string[];
  unsubscribe?: string[];
  initialVersions?: Record<string, string>;
  nonce?: string;
  errorDetail?: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function asResponse(v: unknown): RawDeltaResponse {
  const r = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const resources = Array.isArray(r['resources']) ? (r['resources'] as Record<string, unknown>[]) : [];
  return {
    system_version_info: str(r['system_version_info']),
    type_url: str(r['type_url']),
    nonce: str(r['nonce']),
    resources: resources.map((x) => ({
      name: str(x['name']),
      version: str(x['version']),
      resource: (typeof x['resource'] === 'object' && x['resource'] !== null ? x['resource'] : {}) as Record<string, unknown>,
    })),
    removed_resources: Array.isArray(r['removed_resources']) ? (r['removed_resources'] as string[]) : [],
  };
}

/**
 * One DeltaAggregatedResources stream driven by hand through the plain grpc-js client of the
 * loaded ADS service, so the server's delta protocol is checked from outside. The first request
 * carries the node.
 */
export class RawDeltaAdsStream {
  readonly status: Promise<grpc.StatusObject>;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, unknown>;
  private readonly inbox: RawDeltaResponse[] = [];
  private waiter: ((r: RawDeltaResponse) => void) | undefined;
  private sentFirst = false;
  private readonly node: Record<string, unknown> | null;

  constructor(target: string, opts: { node?: Record<string, unknown> | null } = {}) {
    const Ctor = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService');
    this.client = new Ctor(target, grpc.credentials.createInsecure());
    this.node = opts.node === undefined ? wireNode() : opts.node;
    const method = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>)['DeltaAggregatedResources'];
    if (!method) throw new Error('ADS client has no DeltaAggregatedResources');
    this.call = method.call(this.client);
    this.status = new Promise((resolve) => this.call.on('status', resolve));
    this.call.on('error', () => {});
    this.call.on('data', (d: unknown) => {
      const r = asResponse(d);
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w(r);
      else this.inbox.push(r);
    });
  }

  send(req: RawDeltaRequest): void {
    const msg: Record<string, unknown> = {
      type_url: req.typeUrl,
      resource_names_subscribe: req.subscribe ?? [],
      resource_names_unsubscribe: req.unsubscribe ?? [],
      initial_resource_versions: req.initialVersions ?? {},
      response_nonce: req.nonce ?? '',
    };
    if (req.errorDetail !== undefined) msg['error_detail'] = { code: 3, message: req.errorDetail };
    if (!this.sentFirst && this.node !== null) msg['node'] = this.node;
    this.sentFirst = true;
    this.call.write(msg);
  }

  ack(r: RawDeltaResponse): void {
    this.send({ typeUrl: r.type_url, nonce: r.nonce });
  }

  nack(r: RawDeltaResponse, detail: string): void {
    this.send({ typeUrl: r.type_url, nonce: r.nonce, errorDetail: detail });
  }

  /** The next response; rejects after `timeoutMs` (a safety net so a broken server fails the test). */
  next(timeoutMs = 10_000): Promise<RawDeltaResponse> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('no DeltaDiscoveryResponse arrived'));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** Names of the resources of a delta response, sorted. */
export function deltaNames(r: RawDeltaResponse): string[] {
  return r.resources.map((x) => x.name).sort();
}

/** name → version of a delta response's resources. */
export function deltaVersions(r: RawDeltaResponse): Record<string, string> {
  return Object.fromEntries(r.resources.map((x) => [x.name, x.version]));
}
