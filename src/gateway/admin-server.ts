import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from '../common/prom.ts';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import { GatewayListenError } from './errors.ts';

/** One route of a small HTTP server: returns status, content type and body. */
export type HttpRoute = () => Promise<{ status: number; type: string; body: string }> | { status: number; type: string; body: string };

/** A bound HTTP server; close() also drops idle keep-alive connections. */
export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts an HTTP server on `host:port` serving GET `routes` and POST `postRoutes` by exact path
 * (query ignored); other paths get 404, other methods 405. Rejects with GatewayListenError when
 * the port cannot be bound.
 */
export async function startHttpServer(
  what: string,
  host: string,
  port: number,
  routes: Record<string, HttpRoute>,
  logger: Logger,
  postRoutes: Record<string, HttpRoute> = {},
): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = req.method === 'GET' ? routes[path] : req.method === 'POST' ? postRoutes[path] : undefined;
    if (!route) {
      res.writeHead(req.method === 'GET' || req.method === 'POST' ? 404 : 405, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.resolve()
      .then(route)
      .then(
        (r) => res.writeHead(r.status, { 'content-type': r.type }).end(r.body),
        (e: unknown) => {
          logger.error({ err: errorMessage(e), path }, `${what} handler failed`);
          res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
        },
      );
  });
  const bound = await new Promise<number>((resolve, reject) => {
    server.once('error', (e: unknown) => reject(new GatewayListenError(`${what} on ${host}:${port}`, e)));
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The Prometheus route: text exposition of `registry`. */
export function prometheusRoute(registry: Registry): HttpRoute {
  return async () => ({ status: 200, type: registry.contentType, body: await registry.metrics() });
}
