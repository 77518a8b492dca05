/**
 * Base class of every error meshfed throws or returns. Each subclass carries a stable `code`
 * (upper snake case, e.g. `CONFIG_INVALID`) that callers and tests match on instead of messages.
 */
export class MeshfedError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Narrows an unknown thrown value to a message, for logs and error details. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Narrows an unknown thrown value to its Node system error code (`ECONNREFUSED`…), if any. */
export function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}
