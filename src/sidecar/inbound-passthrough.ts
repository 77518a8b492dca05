import net from 'node:net';
import { PORTS } from '../common/ports.ts';
import { LISTENER } from '../xds/naming.ts';
import type { OriginalDstReader } from './capture/original-dst.ts';
import type { ListenerContext } from './listener-context.ts';

/** The HTTP/2 connection preface's first bytes: a mesh peer's plaintext h2 (PERMISSIVE), not passthrough. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');

/**
 * Capture mode, inbound: a plaintext connection that iptables sent to 15006 from one of the app's
 * own ports (a non-mesh client, a kubelet probe) is passed through to the app on that port,
 * from the passthrough source address, as Istio's InboundPassthroughCluster does under
 * PERMISSIVE. Returns false (the caller serves the connection as before) for mesh plaintext
 * HTTP/2, for a connection made to 15006 itself, or when the original destination is unknown; a
 * redirected port the app does not serve is closed.
 * Contract: called once per plaintext connection with its first bytes unshifted and the socket paused.
 */
export function inboundPassthrough(ctx: ListenerContext, reader: OriginalDstReader, socket: net.Socket, first: Buffer): boolean {
  if (first.subarray(0, H2_PREFACE.length).equals(H2_PREFACE.subarray(0, Math.min(first.length, H2_PREFACE.length)))) return false;
  const dst = reader(socket);
  if (!dst.ok || dst.value.port === PORTS.sidecarInbound) return false;
  const port = dst.value.port;
  const inbound = ctx.config().listeners.get(LISTENER.virtualInbound);
  if (!inbound?.filterChains.some((c) => c.destinationPort === port)) {
    ctx.logger.debug({ port }, 'captured inbound connection to a port the app does not serve: closed');
    socket.destroy();
    return true;
  }
  const app = net.connect({
    host: ctx.workload.address,
    port,
    allowHalfOpen: true,
    ...(ctx.inboundSourceAddress !== undefined ? { localAddress: ctx.inboundSourceAddress } : {}),
  });
  const done = (): void => {
    socket.destroy();
    app.destroy();
  };
  app.once('error', done);
  socket.once('error', done);
  app.once('close', done);
  socket.once('close', done);
  app.once('connect', () => {
    socket.pipe(app);
    app.pipe(socket);
    socket.resume();
  });
  return true;
}
