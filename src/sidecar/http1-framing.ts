import type http from 'node:http';

/**
 * Request framing checks an HTTP/1.1 listener makes before routing, beyond what Node's parser
 * (llhttp, strict: `insecureHTTPParser` off) already refuses. Node rejects Transfer-Encoding
 * with Content-Length, a duplicated or non-final `chunked`, space before a colon, bare CR,
 * obs-fold and NUL with 400 before the handler runs; but a Transfer-Encoding whose codings are
 * not `chunked` alone (`xchunked`, `gzip, chunked`) reaches the handler first and only fails
 * later in the body. RFC 9112 §6.1 wants 400 and close for a final coding other than chunked;
 * meshfed decodes no other coding, so any Transfer-Encoding but `chunked` is refused the same way,
 * before anything is forwarded (pure function).
 */
export function framingError(headers: http.IncomingHttpHeaders): string | undefined {
  const te = headers['transfer-encoding'];
  if (te === undefined) return undefined;
  if (te.trim().toLowerCase() !== 'chunked') return `unsupported transfer-encoding "${te}"`;
  return undefined;
}

/** Connections whose request refuseFraming answered (the parser may fail on its body next). */
const refused = new WeakSet<object>();

/** True once refuseFraming answered on this socket: its later parser error is the same refusal. */
export function framingRefused(socket: object): boolean {
  return refused.has(socket);
}

/** The reply to a request refused for its framing: 400, and the connection is closed. */
export function refuseFraming(res: http.ServerResponse): void {
  if (res.socket) refused.add(res.socket);
  res.shouldKeepAlive = false;
  res.writeHead(400, { connection: 'close', 'content-type': 'text/plain; charset=utf-8', 'content-length': 11 });
  res.end('bad request');
  res.once('finish', () => res.socket?.destroySoon());
}
