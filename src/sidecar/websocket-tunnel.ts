import type http from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { isInternalHeader } from './headers.ts';

/**
 * Pieces shared by the two websocket hops (pure, except `splice`): the HTTP/1.1 response head an
 * app reads, and the byte splice between two duplex streams once the upgrade is accepted.
 */

/**
 * Set by the inbound sidecar on its answer to an extended CONNECT when the app declined the
 * upgrade with a 2xx other than 101 (attack case 14): a 2xx on a CONNECT stream would otherwise
 * read as "tunnel established" (RFC 8441 §5). The outbound sidecar relays such an answer as a
 * plain response and never splices. Internal: apps never see it (isInternalHeader).
 */
export const UPGRADE_DECLINED_HEADER = 'x-meshfed-upgrade-declined';

/** At most this much of a declined upgrade's response body is relayed; the rest is cut off. */
export const DECLINED_BODY_MAX_BYTES = 64 * 1024;

/** Reads a declined upgrade's response body (at most DECLINED_BODY_MAX_BYTES), then destroys the stream. */
export function readDeclinedBody(body: Readable): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (): void => {
      body.destroy();
      resolve(Buffer.concat(chunks));
    };
    body.on('data', (c: Buffer) => {
      const room = DECLINED_BODY_MAX_BYTES - size;
      chunks.push(c.length > room ? c.subarray(0, room) : c);
      size += Math.min(c.length, room);
      if (size >= DECLINED_BODY_MAX_BYTES) done();
    });
    body.once('end', done);
    body.once('close', done);
    body.on('error', () => {});
  });
}

/** Response headers that never cross a proxy on an upgrade (the proxy writes its own). */
const UPGRADE_HOP_BY_HOP = new Set(['connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection']);

/**
 * End-to-end response headers (no pseudo-headers, no hop-by-hop headers, nothing in `drop`, and
 * no internal headers when `dropInternal`: an app's answer, or one from outside the mesh).
 */
export function upgradeResponseHeaders(headers: http.IncomingHttpHeaders, drop: readonly string[] = [], dropInternal = false): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || name.startsWith(':') || UPGRADE_HOP_BY_HOP.has(name) || drop.includes(name) || (dropInternal && isInternalHeader(name))) continue;
    out[name] = v;
  }
  return out;
}

/** An HTTP/1.1 response head as bytes: the status line, `headers`, then a blank line. */
export function http1Head(status: number, reason: string, headers: http.OutgoingHttpHeaders): string {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${String(v).replace(/[\r\n]/g, '')}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * Splices two streams both ways; when either side ends or fails, the other is ended or destroyed.
 * `onClose(cleanly)` runs once both are done: `cleanly` is false when the `upstream` side failed
 * (reset or error) before it ended (response flag UC); `bytes` counts what crossed each way.
 * `resetApp` takes the app side down when the upstream failed (default: destroy it).
 */
export function splice(
  app: Duplex,
  upstream: Duplex,
  onClose: (cleanly: boolean, bytes: { up: number; down: number }) => void,
  resetApp: () => void = () => app.destroy(),
): void {
  const bytes = { up: 0, down: 0 };
  let upstreamFailed = false;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) onClose(!upstreamFailed, bytes);
  };
  app.on('data', (c: Buffer) => {
    bytes.up += c.length;
  });
  upstream.on('data', (c: Buffer) => {
    bytes.down += c.length;
  });
  // A side that ends passes its end on (pipe); a side that fails takes the other one down.
  app.once('close', () => {
    if (!app.readableEnded) upstream.destroy();
    else if (!upstream.writableEnded) upstream.end();
    done();
  });
  upstream.once('close', () => {
    if (!upstream.readableEnded) {
      upstreamFailed = true;
      resetApp();
    } else if (!app.writableEnded) app.end();
    done();
  });
  app.on('error', () => {});
  upstream.on('error', () => {
    upstreamFailed = true;
  });
  app.pipe(upstream);
  upstream.pipe(app);
}
