import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Result } from '../common/result.ts';
import type { UpstreamError } from './errors.ts';
import type { PeerIdentity } from './peer-identity.ts';

/**
 * The seam between the outbound listener and its two upstream transports (mesh mTLS over HTTP/2,
 * and plaintext HTTP/1.1). A transport sends one request and resolves once response headers
 * arrive, or with an UpstreamError (flag UF before the connection was up, UR after).
 */

export interface UpstreamRequest {
  method: string;
  path: string;
  /** Headers already translated for the upstream protocol (pseudo-headers included for h2). */
  headers: OutgoingHttpHeaders;
  /**
   * Request body; the transport pipes it and ends the upstream request when it ends. Undefined
   * when the request has none: the upstream request then ends with its headers.
   */
  body: Readable | undefined;
  connectTimeoutMs: number;
  /** The cluster's `max_requests_per_connection`: close a connection after this many requests. */
  maxRequestsPerConnection?: number;
  /** The cluster's `idle_timeout`: close a connection idle (no request in flight) this long. */
  idleTimeoutMs?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The response body. It emits 'error' (or closes early) when the upstream resets mid-body. */
  body: Readable;
  /** The server's verified identity (mTLS only). */
  peer?: PeerIdentity;
  /**
   * The response's trailers once they arrived (before the body's 'end'); undefined while none
   * did. HTTP/2 trailers are caught as the stream opens, so none are missed however fast they come.
   */
  trailers(): IncomingHttpHeaders | undefined;
  /**
   * HTTP/2 only: the response HEADERS frame ended the stream (a gRPC trailers-only response). A
   * proxy keeps that shape: headers with END_STREAM, no DATA frame, or gRPC clients fail the call.
   */
  endAfterHeaders?: boolean;
}

/** One request in flight. `abort()` resets the upstream stream (idempotent). */
export interface UpstreamCall {
  response: Promise<Result<UpstreamResponse, UpstreamError>>;
  abort(): void;
}
