import * as grpc from '@grpc/grpc-js';
import { type NodeIdentityInput, nodeMessage } from '../../../src/xds/node.ts';
import { serviceClient } from '../../../src/xds/protos.ts';

/** A decoded DiscoveryResponse as a raw client sees it. */
export interface RawResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: Record<string, unknown>[];
}

export interface RawRequest {
  typeUrl: string;
  names?: string[];
  nonce?: string;
  version?: string;
  errorDetail?: string;
}

export const TEST_NODE: NodeIdentityInput = {
  type: 'sidecar',
  ip: '127.0.0.10',
  workload: 'productpage-v1',
  namespace: 'default',
  cluster: 'east',
  serviceAccount: 'bookinfo-productpage',
  labels: { app: 'productpage' },
};

/** The `node` of a first request, encodable by proto-loader. */
export function wireNode(input: NodeIdentityInput = TEST_NODE): Record<string, unknown> {
  return { ...nodeMessage(input) };
}

function asResponse(v: unknown): RawResponse {
  const r = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  return {
    version_info: typeof r['version_info'] === 'string' ? r['version_info'] : '',
    type_url: typeof r['type_url'] === 'string' ? r['type_url'] : '',
    nonce: typeof r['nonce'] === 'string' ? r['nonce'] : '',
    resources: Array.isArray(r['resources']) ? (r['resources'] as Record<string, unknown>[]) : [],
  };
}

/**
 * One ADS stream driven by hand through the plain grpc-js client of the loaded ADS service, so the
 * server's protocol is checked from outside. The first request carries the node (unless `node` is
 * given explicitly, e.g. `null` for a bad-node test). With `read: false` the stream never consumes
 * responses, so HTTP/2 flow control pushes back on the server.
 */
export class RawAdsStream {
  readonly status: Promise<grpc.StatusObject>;
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<unknown, unknown>;
  private readonly inbox: RawResponse[] = [];
  private waiter: ((r: RawResponse) => void) | undefined;
  private sentFirst = false;
  private readonly node: Record<string, unknown> | null;

  constructor(
    target: string,
    opts: { node?: Record<string, unknown> | null; read?: boolean; credentials?: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions } = {},
  ) {
    const Ctor = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService');
    this.client = new Ctor(target, opts.credentials ?? grpc.credentials.createInsecure(), opts.channelOptions ?? {});
    this.node = opts.node === undefined ? wireNode() : opts.node;
    const method = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<unknown, unknown>>)[
      'StreamAggregatedResources'
    ];
    if (!method) throw new Error('ADS client has no StreamAggregatedResources');
    this.call = method.call(this.client);
    this.status = new Promise((resolve) => this.call.on('status', resolve));
    this.call.on('error', () => {});
    if (opts.read !== false) {
      this.call.on('data', (d: unknown) => {
        const r = asResponse(d);
        const w = this.waiter;
        this.waiter = undefined;
        if (w) w(r);
        else this.inbox.push(r);
      });
    }
  }

  send(req: RawRequest): void {
    const msg: Record<string, unknown> = {
      type_url: req.typeUrl,
      resource_names: req.names ?? [],
      response_nonce: req.nonce ?? '',
      version_info: req.version ?? '',
    };
    if (req.errorDetail !== undefined) msg['error_detail'] = { code: 3, message: req.errorDetail };
    if (!this.sentFirst && this.node !== null) msg['node'] = this.node;
    this.sentFirst = true;
    this.call.write(msg);
  }

  /** ACKs a response (same names unless given). */
  ack(r: RawResponse, names: string[] = []): void {
    this.send({ typeUrl: r.type_url, names, nonce: r.nonce, version: r.version_info });
  }

  /** The next response; rejects after `timeoutMs` (a safety net so a broken server fails the test). */
  next(timeoutMs = 10_000): Promise<RawResponse> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error('no DiscoveryResponse arrived'));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  /** Responses received but not yet taken. */
  pending(): number {
    return this.inbox.length;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** Names of the resources of a response (`name` or `cluster_name`). */
export function namesOf(r: RawResponse): string[] {
  return r.resources.map((x) => String(x['name'] ?? x['cluster_name'] ?? '')).sort();
}
