import { MeshfedError } from '../common/errors.ts';

/**
 * Base class of every Citadel error. Codes are stable and the gRPC service maps them to status
 * codes (see ca-service.ts): CSR_INVALID / VALIDITY_INVALID → INVALID_ARGUMENT,
 * IDENTITY_MISMATCH → PERMISSION_DENIED, UNAUTHENTICATED → UNAUTHENTICATED.
 */
export class CitadelError extends MeshfedError {}

/** A SPIFFE ID (or its parts) is not well formed. */
export class InvalidSpiffeIdError extends CitadelError {
  constructor(message: string) {
    super('SPIFFE_ID_INVALID', message);
  }
}

/** A CSR cannot be parsed, or its own signature does not verify. */
export class CsrInvalidError extends CitadelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CSR_INVALID', message, options);
  }
}

/** A CSR asks for an identity (SAN) other than the authenticated caller's. */
export class IdentityMismatchError extends CitadelError {
  constructor(message: string) {
    super('IDENTITY_MISMATCH', message);
  }
}

/** A requested validity is not a positive whole number of seconds. */
export class ValidityInvalidError extends CitadelError {
  constructor(message: string) {
    super('VALIDITY_INVALID', message);
  }
}

/** CA files are missing, unreadable or inconsistent (key does not match certificate, …). */
export class CaMaterialError extends CitadelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CA_MATERIAL_INVALID', message, options);
  }
}

/** A certificate (chain) received from a peer or from Citadel fails a check. */
export class CertificateRejectedError extends CitadelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CERTIFICATE_REJECTED', message, options);
  }
}

/** Citadel could not be reached, or refused the request (carries the gRPC status in the message). */
export class CertificateRequestError extends CitadelError {
  /** The gRPC status code when Citadel answered with an error; undefined for local failures. */
  readonly grpcCode: number | undefined;

  constructor(message: string, options?: { cause?: unknown; grpcCode?: number }) {
    super('CERTIFICATE_REQUEST_FAILED', message, options);
    this.grpcCode = options?.grpcCode;
  }
}

/** A root-rotation phase cannot run now (an earlier phase is not done, or the CA folder is inconsistent). */
export class CaRotationError extends CitadelError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CA_ROTATION_BLOCKED', message, options);
  }
}
