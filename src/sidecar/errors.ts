import { MeshfedError } from '../common/errors.ts';

/**
 * Base class of every sidecar error. Codes are stable: tests and callers match on `code`.
 */
export class SidecarError extends MeshfedError {}

/** Options given to createDataPlane or startSidecar are invalid (the message names the field). */
export class SidecarOptionsError extends SidecarError {
  constructor(message: string) {
    super('SIDECAR_OPTIONS_INVALID', message);
  }
}

/** A listener could not be bound to its address. */
export class ListenerBindError extends SidecarError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LISTENER_BIND_FAILED', message, options);
  }
}

/** A peer's certificate was rejected after the TLS handshake (e.g. malformed SPIFFE ID). */
export class PeerIdentityError extends SidecarError {
  constructor(message: string) {
    super('PEER_IDENTITY_INVALID', message);
  }
}

/**
 * A mesh server's certificate chained to our roots but its SPIFFE ID is none of the identities
 * its cluster expects (Envoy's `ssl.fail_verify_san`).
 */
export class ServerSanMismatchError extends SidecarError {
  constructor(message: string) {
    super('SERVER_SAN_MISMATCH', message);
  }
}

/**
 * An upstream request failed. `flag` is the Envoy-style response flag that the failure maps to:
 * UF (connect/TLS failure), UR (reset after connect), UT (timeout).
 */
export class UpstreamError extends SidecarError {
  readonly flag: 'UF' | 'UR' | 'UT';
  /**
   * The peer refused the stream unprocessed (RST_STREAM REFUSED_STREAM, e.g. opened past its
   * GOAWAY): safe to retry, Envoy's `refused-stream` retry condition.
   */
  readonly refusedStream: boolean;

  constructor(flag: 'UF' | 'UR' | 'UT', message: string, options?: { cause?: unknown; refusedStream?: boolean }) {
    super(flag === 'UF' ? 'UPSTREAM_CONNECT_FAILED' : flag === 'UR' ? 'UPSTREAM_RESET' : 'UPSTREAM_TIMEOUT', message, options);
    this.flag = flag;
    this.refusedStream = options?.refusedStream === true;
  }
}
