import * as grpc from '@grpc/grpc-js';
import { type Logger, createLogger } from '../../common/log.ts';
import type { ProxyNode } from '../../xds/node.ts';
import { serviceClient } from '../../xds/protos.ts';
import { AdsConnection, type ProxyStatus, type ResourceGenerator } from './ads-connection.ts';
import { AdsOptionsError } from './ads-errors.ts';

/** Options of an AdsServer; validated once by the constructor. */
export interface AdsServerOptions {
  /** Pure resource generator; called per stream and type whenever content may have changed. */
  generate: ResourceGenerator;
  logger?: Logger;
  /** Per-stream bounded queue of pending pushes (default 16). */
  queueLimit?: number;
  /** Called for every NACK (a request with `error_detail` answering the latest response). */
  onNack?: (node: ProxyNode, typeUrl: string, detail: string) => void;
}

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * Pilot's push server: envoy.service.discovery.v3.AggregatedDiscoveryService, state of the world.
 * It is the only holder of protocol state (subscriptions, versions, nonces, ACK/NACK). Callers own
 * the grpc.Server: `addTo` registers the service, `push` is called after each model change,
 * `close` ends every open stream (the grpc.Server is shut down by its owner).
 */
export class AdsServer {
  private readonly connections = new Set<AdsConnection>();
  private readonly generate: ResourceGenerator;
  private readonly logger: Logger;
  private readonly queueLimit: number;
  private readonly onNack: AdsServerOptions['onNack'];
  private closed = false;

  constructor(opts: AdsServerOptions) {
    if (typeof opts.generate !== 'function') throw new AdsOptionsError('generate must be a function');
    const queueLimit = opts.queueLimit ?? 16;
    if (!Number.isInteger(queueLimit) || queueLimit < 1) throw new AdsOptionsError('invalid queueLimit');
    this.generate = opts.generate;
    this.queueLimit = queueLimit;
    this.onNack = opts.onNack;
    this.logger = opts.logger ?? createLogger('pilot-ads');
  }

  /** Registers the ADS service on a grpc.Server (plain or TLS). Delta ADS answers UNIMPLEMENTED. */
  addTo(server: grpc.Server): void {
    const service = serviceClient(ADS_SERVICE).service;
    server.addService(service, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => this.onStream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        call.emit('error', Object.assign(new Error('delta xDS is not supported'), { code: grpc.status.UNIMPLEMENTED }));
      },
    });
  }

  /** The model changed: every connected proxy regenerates; only changed types are sent. */
  push(reason: string): void {
    for (const c of this.connections) c.push(reason);
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

  private onStream(call: grpc.ServerDuplexStream<unknown, unknown>): void {
    if (this.closed) {
      call.emit('error', Object.assign(new Error('ADS server closed'), { code: grpc.status.UNAVAILABLE }));
      return;
    }
    const conn = new AdsConnection(call, {
      generate: this.generate,
      logger: this.logger,
      queueLimit: this.queueLimit,
      onNack: this.onNack,
      onClose: (c) => this.connections.delete(c),
    });
    this.connections.add(conn);
  }
}
