/** TLS alert descriptions the gateway sends when it refuses a connection (RFC 8446 §6). */
export const ALERT = {
  handshakeFailure: 40,
  unrecognizedName: 112,
} as const;

export type AlertDescription = (typeof ALERT)[keyof typeof ALERT];

/**
 * A plaintext fatal alert record, as a server sends it before the handshake completes:
 * content type 21, version 0x0303, length 2, level fatal (2), description.
 */
export function fatalAlertRecord(description: AlertDescription): Buffer {
  return Buffer.from([21, 0x03, 0x03, 0x00, 0x02, 0x02, description]);
}
