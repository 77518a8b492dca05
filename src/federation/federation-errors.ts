import { MeshfedError } from '../common/errors.ts';

/** Base of every error the federation component returns or throws. */
export class FederationError extends MeshfedError {}

/**
 * A discovery backend call failed. `code` is one of:
 * - `DISCOVERY_UNAVAILABLE`: the backend could not be reached (connection refused, timeout).
 * - `DISCOVERY_REQUEST_FAILED`: the backend answered with an error status.
 * - `DISCOVERY_PERMISSION_DENIED`: Consul's ACLs refused the request (HTTP 403): no token, or a
 *   token whose policy does not grant it.
 * - `DISCOVERY_BAD_RESPONSE`: the backend answered with a body that does not validate.
 * - `DISCOVERY_ABORTED`: the caller aborted the request (close(), watch stopped).
 */
export class DiscoveryError extends FederationError {
  /** True for `DISCOVERY_ABORTED`: not a failure of the backend, the caller gave up. */
  get aborted(): boolean {
    return this.code === 'DISCOVERY_ABORTED';
  }
}

/** Options handed to startFederation or a backend constructor failed validation. */
export class FederationOptionsError extends FederationError {
  constructor(message: string) {
    super('FEDERATION_OPTIONS_INVALID', message);
  }
}
