import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import http2 from 'node:http2';

/**
 * gRPC facts the listeners need (pure, except `writeGrpcLocalReply`): whether a request is gRPC,
 * the status a response carries, and the trailers-only reply a proxy sends instead of an HTTP
 * error when a gRPC request fails in the mesh (as Envoy's local replies do for gRPC requests).
 */

/** True for `content-type: application/grpc` and its `+proto` / `+json` variants (gRPC over HTTP/2). */
export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type'];
  return typeof ct === 'string' && ct.startsWith('application/grpc') && !ct.startsWith('application/grpc-web');
}

/** The `grpc-status` of a response: in its trailers, or in its headers for a trailers-only response. */
export function grpcStatusOf(headers: IncomingHttpHeaders, trailers: IncomingHttpHeaders | undefined): string | undefined {
  const v = trailers?.['grpc-status'] ?? headers['grpc-status'];
  return typeof v === 'string' && /^\d+$/.test(v) ? v : undefined;
}

/** gRPC status codes by name (those the proxies produce). */
export const GRPC_CODE = { UNKNOWN: 2, DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, INTERNAL: 13, UNIMPLEMENTED: 12, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/**
 * The gRPC status of a local reply with this HTTP status: gRPC's HTTP-to-gRPC mapping, which Envoy
 * applies to its own local replies (404 UNIMPLEMENTED; 429, 502, 503 and 504 UNAVAILABLE).
 */
export function grpcStatusForHttp(status: number): number {
  switch (status) {
    case 400:
      return GRPC_CODE.INTERNAL;
    case 401:
      return GRPC_CODE.UNAUTHENTICATED;
    case 403:
      return GRPC_CODE.PERMISSION_DENIED;
    case 404:
      return GRPC_CODE.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GRPC_CODE.UNAVAILABLE;
    default:
      return GRPC_CODE.UNKNOWN;
  }
}

/** `grpc-message` is percent-encoded (gRPC over HTTP/2: printable ASCII except `%` stays). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * The headers of a trailers-only gRPC reply: HTTP 200, `content-type: application/grpc`, the
 * status (an explicit one, e.g. a fault abort's `grpc_status`, or the mapping of `httpStatus`)
 * and the message. `extra` (response flags, peer metadata) is added.
 */
export function grpcLocalReplyHeaders(httpStatus: number, grpcStatus: number | undefined, message: string, extra: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return {
    ...extra,
    'content-type': 'application/grpc',
    'grpc-status': String(grpcStatus ?? grpcStatusForHttp(httpStatus)),
    'grpc-message': encodeGrpcMessage(message),
  };
}

/**
 * Answers an HTTP/2 stream with one HEADERS frame that ends it (relaying an upstream's
 * trailers-only response as it came). `headers` must hold no pseudo-headers.
 */
export function respondHeadersOnly(stream: http2.ServerHttp2Stream, status: number, headers: OutgoingHttpHeaders): void {
  if (!stream.destroyed && !stream.headersSent) stream.respond({ ...headers, [http2.constants.HTTP2_HEADER_STATUS]: status }, { endStream: true });
}

/**
 * Sends a trailers-only reply on an HTTP/2 stream: one HEADERS frame with END_STREAM and
 * `:status` 200. Returns the grpc-status sent.
 */
export function writeGrpcLocalReply(stream: http2.ServerHttp2Stream, headers: OutgoingHttpHeaders): string {
  if (!stream.destroyed && !stream.headersSent) stream.respond({ ...headers, [http2.constants.HTTP2_HEADER_STATUS]: 200 }, { endStream: true });
  return String(headers['grpc-status']);
}
