import type http from 'node:http';
import http2 from 'node:http2';
import type { UpstreamError } from './errors.ts';
import { respondHeadersOnly } from './grpc-status.ts';
import type { H2SessionPool } from './upstream-h2-pool.ts';
import type { UpstreamResponse } from './upstream-interface.ts';

/**
 * The inbound hop to an app whose cluster speaks HTTP/2 (`http2_protocol_options`: http2 and grpc
 * ports): the request goes to the app over prior-knowledge h2c on a pooled session, and the
 * response comes back with its trailers unchanged (grpc-status, grpc-message). The caller has
 * already routed and picked the endpoint; it edits the request headers in `editHeaders` (Host,
 * XFCC, peer metadata) and gets the outcome through `on`:
 * - `response(r)` once the app's headers arrived (the caller writes them and reports the status),
 * - `data(n)` per body chunk relayed, `end(trailers)` when the body ended (its trailers, if any),
 * - `failed(flag, message)` when the app could not be reached (UF), reset the stream (UR) or did
 *   not answer within the route timeout (UT); the caller sends the local reply.
 */
export interface AppH2Hooks {
  editHeaders(headers: http.OutgoingHttpHeaders): void;
  response(r: UpstreamResponse): http.OutgoingHttpHeaders;
  data(bytes: number): void;
  end(trailers: http.IncomingHttpHeaders | undefined): void;
  failed(flag: 'UF' | 'UR' | 'UT', message: string): void;
}

/** Request headers of the mesh stream → the app's: pseudo-headers rebuilt, the rest end to end. */
function appHeaders(req: http2.Http2ServerRequest, authority: string): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {
    ':method': req.method,
    ':path': req.url,
    ':scheme': 'http',
    ':authority': authority,
  };
  for (const name in req.headers) {
    if (name.startsWith(':') || name === 'host') continue;
    const v = req.headers[name];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export function forwardToAppH2(
  pool: H2SessionPool,
  app: { host: string; port: number; localAddress?: string },
  req: http2.Http2ServerRequest,
  res: http2.Http2ServerResponse,
  opts: { authority: string; timeoutMs: number; connectTimeoutMs: number },
  on: AppH2Hooks,
): void {
  const headers = appHeaders(req, opts.authority);
  on.editHeaders(headers);
  const body = req.stream.endAfterHeaders ? undefined : req;
  const call = pool.request(
    { host: app.host, port: app.port, sni: '', alpn: [], plaintext: true, ...(app.localAddress !== undefined ? { localAddress: app.localAddress } : {}) },
    { method: req.method, path: req.url, headers, body, connectTimeoutMs: opts.connectTimeoutMs },
  );
  let timedOut = false;
  const timer =
    opts.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          call.abort();
        }, opts.timeoutMs)
      : undefined;
  timer?.unref();
  // The mesh peer went away first: reset the app's stream too.
  res.once('close', () => {
    clearTimeout(timer);
    call.abort();
  });
  void call.response.then((r) => {
    if (!r.ok) {
      clearTimeout(timer);
      const e: UpstreamError = r.errors;
      on.failed(timedOut ? 'UT' : e.flag === 'UF' ? 'UF' : 'UR', timedOut ? `upstream request timeout after ${opts.timeoutMs} ms` : e.message);
      return;
    }
    const upstream = r.value;
    const out = on.response(upstream);
    if (res.stream.destroyed) {
      upstream.body.destroy();
      return;
    }
    if (upstream.endAfterHeaders) {
      clearTimeout(timer);
      res.statusCode = upstream.status;
      respondHeadersOnly(res.stream, upstream.status, out);
      upstream.body.resume();
      on.end(undefined);
      return;
    }
    res.writeHead(upstream.status, out);
    upstream.body.on('data', (chunk: Buffer) => on.data(chunk.length));
    upstream.body.once('end', () => {
      clearTimeout(timer);
      const trailers = upstream.trailers();
      on.end(trailers);
      if (trailers) {
        const t: http.OutgoingHttpHeaders = {};
        for (const name in trailers) if (!name.startsWith(':') && trailers[name] !== undefined) t[name] = trailers[name];
        res.addTrailers(t);
      }
      res.end();
    });
    upstream.body.once('close', () => {
      clearTimeout(timer);
      if (upstream.body.readableEnded) return;
      // Reset mid-body (or timed out after the headers): the mesh peer sees the reset.
      if (!res.stream.destroyed) res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    upstream.body.on('error', () => {});
    upstream.body.pipe(res, { end: false });
  });
}
