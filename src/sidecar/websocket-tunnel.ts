import type http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Pieces shared by the two websocket hops (pure, except `splice`): the HTTP/1.1 response head an
 * app reads, and the byte splice between two duplex streams once the upgrade is accepted.
 */

/** Response headers that never cross a proxy on an upgrade (the proxy writes its own). */
const UPGRADE_HOP_BY_HOP = new Set(['connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection']);

/** End-to-end response headers (no pseudo-headers, no hop-by-hop headers, nothing in `drop`). */
export function upgradeResponseHeaders(headers: http.IncomingHttpHeaders, drop: readonly string[] = []): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || name.startsWith(':') || UPGRADE_HOP_BY_HOP.has(name) || drop.includes(name)) continue;
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
