import { MeshfedError } from '../common/errors.ts';

/** Base of the east-west gateway's errors. Codes: `GATEWAY_OPTIONS_INVALID`, `GATEWAY_LISTEN_FAILED`. */
export class GatewayError extends MeshfedError {}

/** Options given to startGateway or createGatewayDataPlane failed validation; the message names the field. */
export class GatewayOptionsError extends GatewayError {
  constructor(message: string) {
    super('GATEWAY_OPTIONS_INVALID', message);
  }
}

/** A listening socket (passthrough, admin or metrics) could not be bound. */
export class GatewayListenError extends GatewayError {
  constructor(what: string, cause: unknown) {
    super('GATEWAY_LISTEN_FAILED', `cannot listen for ${what}`, { cause });
  }
}
