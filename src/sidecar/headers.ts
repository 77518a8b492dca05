import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Header translation between the app's HTTP/1.1 and the mesh's HTTP/2 (pure functions).
 * Hop-by-hop headers never cross a proxy: the fixed list below plus every header named in
 * `Connection`. `te` survives only as `te: trailers` (the one value HTTP/2 allows).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'http2-settings',
  'host',
]);

/**
 * Headers only a proxy of this mesh may set: the caller's certificate (`x-forwarded-client-cert`,
 * which the inbound sidecar sets from the verified peer), meshfed's own `x-meshfed-*` (peer
 * metadata, response flags) and Envoy's `x-envoy-*` controls. Envoy strips `x-envoy-*` from
 * requests it deems external and honours them on internal ones; meshfed honours none of them, so
 * every request entering the mesh is treated as external: the app (or an outside caller) can set
 * none of these toward a peer, and an upstream outside the mesh none toward the caller.
 */
export function isInternalHeader(name: string): boolean {
  return name === 'x-forwarded-client-cert' || name.startsWith('x-meshfed-') || name.startsWith('x-envoy-');
}

/** Header names listed in `Connection`, lower-cased; undefined when there is no such header. */
function connectionNamed(headers: IncomingHttpHeaders): Set<string> | undefined {
  const raw = headers['connection'];
  if (raw === undefined) return undefined;
  const named = new Set<string>();
  for (const part of (Array.isArray(raw) ? raw.join(',') : raw).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') named.add(name);
  }
  return named;
}

/**
 * Copies end-to-end headers into `out` (after what it already holds): drops pseudo-headers,
 * hop-by-hop headers and those named in Connection, and internal headers (isInternalHeader)
 * when `dropInternal`.
 */
function copyEndToEnd(headers: IncomingHttpHeaders, named: Set<string> | undefined, out: OutgoingHttpHeaders, dropInternal: boolean): OutgoingHttpHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name) || named?.has(name) || (dropInternal && isInternalHeader(name))) continue;
    out[name] = value;
  }
  return out;
}

/** The request line and headers of an HTTP/1.1 request, as the outbound listener received them. */
export interface H1RequestHead {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

/**
 * HTTP/1.1 request head → HTTP/2 request headers. Host becomes `:authority` (lower-cased);
 * `te: trailers` is kept. `authority` overrides the Host header when given. Internal headers
 * (isInternalHeader) from the app are dropped; the caller adds its own peer metadata afterwards.
 */
export function h1ToH2RequestHeaders(head: H1RequestHead, authority?: string): OutgoingHttpHeaders {
  const named = connectionNamed(head.headers);
  const out = copyEndToEnd(head.headers, named, {
    ':method': head.method,
    ':path': head.path,
    ':scheme': 'http',
    ':authority': (authority ?? head.headers.host ?? '').toLowerCase(),
  }, true);
  const te = head.headers['te'];
  if (typeof te === 'string' && te.trim().toLowerCase() === 'trailers' && !named?.has('te')) out['te'] = 'trailers';
  return out;
}

/**
 * HTTP/1.1 request head → HTTP/1.1 request headers for a plaintext upstream: hop-by-hop and
 * internal headers dropped, Host kept (the upstream routes on it too).
 */
export function h1ToH1RequestHeaders(head: H1RequestHead): OutgoingHttpHeaders {
  const out = copyEndToEnd(head.headers, connectionNamed(head.headers), {}, true);
  if (head.headers.host !== undefined) out['host'] = head.headers.host;
  return out;
}

/**
 * Response headers (HTTP/2 from a mesh peer, or HTTP/1.1 from a plaintext upstream) → headers the
 * outbound listener writes back to the app: pseudo-headers and hop-by-hop headers dropped, and
 * internal headers too unless the response came from a mesh peer over mTLS (`fromMeshPeer`: its
 * inbound sidecar set them, e.g. `x-meshfed-response-flags` of its local reply, and dropped any
 * its app sent). An upstream outside the mesh thus cannot forge `x-meshfed-*` toward the app.
 */
export function responseHeadersForH1(headers: IncomingHttpHeaders, fromMeshPeer = false): OutgoingHttpHeaders {
  return copyEndToEnd(headers, connectionNamed(headers), {}, !fromMeshPeer);
}

/**
 * The app's response headers on the inbound side (mutates `headers`): internal headers dropped,
 * so that the app cannot forge the sidecar's own (`x-meshfed-response-flags`, peer metadata).
 * Hop-by-hop headers are dropped by the transport already.
 */
export function dropInternalHeaders(headers: Record<string, unknown>): void {
  for (const name of Object.keys(headers)) if (isInternalHeader(name)) delete headers[name];
}

/**
 * h2c request headers from the app → the HTTP/1.1-shaped headers the router and the upstream
 * transports read: pseudo-headers dropped, `:authority` as Host. Nothing else changes, so a
 * request reads the same to routing whichever protocol the app spoke.
 */
export function h2DownstreamHeaders(headers: IncomingHttpHeaders, authority: string): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { host: authority };
  for (const name in headers) {
    if (name.startsWith(':') || name === 'host') continue;
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}
