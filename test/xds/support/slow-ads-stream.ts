import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { serviceClient } from '../../../src/xds/protos.ts';
import type { RawResponse } from './raw-ads-stream.ts';

/**
 * A socket whose incoming bytes can be held back and let through again. While held, the HTTP/2
 * session above it sees no frame, so it returns no flow-control window and the server can send at
 * most one window (64 KiB); `release()` delivers what was held and everything after it.
 */
class HoldingSocket extends Duplex {
  private holding = false;
  private held: Buffer[] = [];

  constructor(private readonly sock: net.Socket) {
    super();
    sock.on('data', (d: Buffer) => {
      if (this.holding) this.held.push(d);
      else this.push(d);
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sock.write(chunk, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.sock.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.sock.destroy();
    cb(err);
  }

  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const d of this.held.splice(0)) this.push(d);
  }
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

/** An ADS stream over raw HTTP/2 that can stop reading (`hold`) and start again (`release`). */
export interface SlowAdsStream {
  /** Every response decoded so far, in arrival order. */
  readonly responses: RawResponse[];
  send(request: Record<string, unknown>): void;
  hold(): void;
  release(): void;
  close(): void;
}

export async function openSlowAdsStream(target: string): Promise<SlowAdsStream> {
  const [host, portStr] = target.split(':');
  const sock = net.connect(Number(portStr), host ?? '127.0.0.1');
  await once(sock, 'connect');
  const gate = new HoldingSocket(sock);
  const session = http2.connect(`http://${target}`, { createConnection: () => gate });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['StreamAggregatedResources'];
  if (!method) throw new Error('ADS method missing');
  const req = session.request({ ':method': 'POST', ':path': method.path, 'content-type': 'application/grpc', te: 'trailers' });
  req.on('error', () => {});
  const responses: RawResponse[] = [];
  let pending = Buffer.alloc(0);
  req.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5) {
      const len = pending.readUInt32BE(1);
      if (pending.length < 5 + len) break;
      responses.push(asResponse(method.responseDeserialize(pending.subarray(5, 5 + len))));
      pending = pending.subarray(5 + len);
    }
  });
  return {
    responses,
    send(request) {
      const body = method.requestSerialize(request);
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      body.copy(frame, 5);
      req.write(frame);
    },
    hold: () => gate.hold(),
    release: () => gate.release(),
    close() {
      req.destroy();
      session.destroy();
      sock.destroy();
    },
  };
}
