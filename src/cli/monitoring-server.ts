import http from 'node:http';
import type { Registry } from '../common/prom.ts';
import type { ReadinessReport } from './readiness-report.ts';

/** A running monitoring server. */
export interface MonitoringServer {
  close(): Promise<void>;
}

export interface MonitoringServerOptions {
  host: string;
  port: number;
  /** Served on `/ready`: 200 when `ready`, else 503; the report is the body either way. */
  ready: () => ReadinessReport;
  /** Path → JSON body, answered 200 (debug pages). */
  json: Record<string, () => unknown>;
  /** Served on `/metrics` in Prometheus text format. */
  metrics?: Registry;
}

/**
 * A component's HTTP monitoring port (Istio's 15014): `/ready`, JSON debug pages and Prometheus
 * metrics. JSON is pretty-printed (`"ready": true`). A page that throws answers 500.
 */
export async function startMonitoringServer(opts: MonitoringServerOptions): Promise<MonitoringServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, contentType: string, body: string): void => {
      res.writeHead(status, { 'content-type': contentType });
      res.end(body);
    };
    const json = (status: number, body: unknown): void => send(status, 'application/json', `${JSON.stringify(body, null, 2)}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: 'method not allowed' });
      return;
    }
    const pathname = new URL(req.url ?? '/', 'http://monitoring').pathname;
    const registry = opts.metrics;
    if (pathname === '/metrics' && registry) {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => json(500, { error: 'metrics unavailable' }),
      );
      return;
    }
    if (pathname === '/ready') {
      try {
        const report = opts.ready();
        json(report.ready ? 200 : 503, report);
      } catch {
        json(500, { error: 'readiness unavailable' });
      }
      return;
    }
    const page = Object.hasOwn(opts.json, pathname) ? opts.json[pathname] : undefined;
    if (!page) {
      json(404, { error: 'not found' });
      return;
    }
    try {
      json(200, page());
    } catch {
      json(500, { error: 'page unavailable' });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
