import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { serviceClient } from '../../../src/xds/protos.ts';

/**
 * A socket whose incoming bytes can be cut off. Once stalled, the HTTP/2 session above it never sees
 * another frame, so it never returns flow-control window: the server can send at most one window
 * (64 KiB) and must then hold everything else. (grpc-js and node:http2 keep reading from the socket
 * even when nobody consumes the call, so a "paused" call alone does not push back.)
 */
class GateSocket extends Duplex {
  private stalled = false;

  constructor(private readonly sock: net.Socket) {
    super();
    sock.on('data', (d: Buffer) => {
      if (!this.stalled) this.push(d);
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

  stall(): void {
    this.stalled = true;
    this.sock.pause();
  }
}

/**
 * Opens an ADS stream over raw HTTP/2, sends one DiscoveryRequest and then never reads again:
 * the proxy that never reads. `close()` tears the connection down.
 */
export async function openStalledAdsStream(target: string, request: Record<string, unknown>): Promise<{ close(): void }> {
  const [host, portStr] = target.split(':');
  const sock = net.connect(Number(portStr), host ?? '127.0.0.1');
  await once(sock, 'connect');
  const gate = new GateSocket(sock);
  const session = http2.connect(`http://${target}`, { createConnection: () => gate });
  session.on('error', () => {});
  await once(session, 'remoteSettings');
  const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service.StreamAggregatedResources;
  if (!method) throw new Error('ADS method missing');
  const body = method.requestSerialize(request);
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  const req = session.request({
    ':method': 'POST',
    ':path': method.path,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  req.on('error', () => {});
  req.write(frame);
  await new Promise<void>((resolve) => setImmediate(resolve));
  gate.stall();
  return {
    close: () => {
      req.destroy();
      session.destroy();
      sock.destroy();
    },
  };
}
