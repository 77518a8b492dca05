import type net from 'node:net';
import { decodePeerMetadata, type PeerMetadata } from './peer-metadata.ts';

/**
 * meshfed's in-band peer metadata exchange on mesh TCP, negotiated by ALPN
 * `meshfed-peer-exchange` (Istio's `istio-peer-exchange` carries a different, protobuf frame that
 * meshfed does not speak, so it never selects that one). Right after the handshake the caller
 * writes one frame: a 4-byte big-endian length, then its `x-meshfed-peer-metadata` value
 * (base64 JSON, peer-metadata.ts). The destination reads the frame before proxying any bytes, so
 * it can label telemetry with the caller's workload and cluster. Only the caller sends.
 */
export const PEER_EXCHANGE_ALPN = 'meshfed-peer-exchange';
const MAX_FRAME = 4096;

export function peerExchangeFrame(metadata: string): Buffer {
  const body = Buffer.from(metadata, 'latin1');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/**
 * Reads the caller's frame from `socket` (paused afterwards). Resolves with the metadata (undefined
 * when it does not decode) and the bytes that followed it; with `undefined` when the socket ends
 * or errs first or the frame is longer than 4 KiB (the caller then closes the connection).
 */
export function readPeerExchange(socket: net.Socket): Promise<{ metadata: PeerMetadata | undefined; rest: Buffer } | undefined> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const done = (v: { metadata: PeerMetadata | undefined; rest: Buffer } | undefined): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
      resolve(v);
    };
    const onEnd = (): void => done(undefined);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const len = buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        done(undefined);
        return;
      }
      if (buf.length < 4 + len) return;
      done({ metadata: decodePeerMetadata(buf.subarray(4, 4 + len).toString('latin1')), rest: buf.subarray(4 + len) });
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onEnd);
  });
}
