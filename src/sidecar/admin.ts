import http from 'node:http';
import type { ProxyConfig } from '../xds/config-types.ts';
import { type CertificateInfo, certificateInfo, type CertificateSource } from './cert-source.ts';
import type { SidecarTelemetry } from './telemetry.ts';

/**
 * The sidecar's operator endpoints. Each is a plain HTTP/1.1 server bound to the workload address:
 * admin (:15000) `GET /config_dump`, `GET /ready`, `POST /certs/renew` (renews the workload
 * certificate now, as `meshfed ca rotate` asks after an intermediate change; answers the new
 * certificate's info, or 503 when the renewal failed and the current one is kept); health (:15021) `GET /healthz/ready`; metrics
 * (:15090) `GET /stats/prometheus`. Readiness: 200 `LIVE` when ready, else 503 with the reason.
 */

/** Whether the sidecar can serve traffic, and if not, why. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

/** What the admin endpoints read from their data plane. */
export interface AdminSource {
  config(): ProxyConfig;
  certificates: CertificateSource;
  readiness(): Readiness;
  telemetry: SidecarTelemetry;
}

/** JSON of `/config_dump`. */
export interface ConfigDump {
  versions: ProxyConfig['versions'];
  listeners: unknown[];
  routes: unknown[];
  clusters: unknown[];
  endpoints: unknown[];
  certificate: CertificateInfo | { error: string };
}

export function configDump(src: AdminSource): ConfigDump {
  const cfg = src.config();
  let certificate: ConfigDump['certificate'];
  try {
    certificate = certificateInfo(src.certificates.current());
  } catch (e: unknown) {
    certificate = { error: e instanceof Error ? e.message : String(e) };
  }
  return {
    versions: cfg.versions,
    listeners: [...cfg.listeners.values()],
    routes: [...cfg.routes.values()],
    clusters: [...cfg.clusters.values()],
    endpoints: [...cfg.endpoints.values()],
    certificate,
  };
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readinessReply(src: AdminSource, res: http.ServerResponse): void {
  const r = src.readiness();
  send(res, r.ready ? 200 : 503, 'text/plain; charset=utf-8', r.ready ? 'LIVE\n' : `NOT READY: ${r.reason ?? 'unknown'}\n`);
}

type Route = (src: AdminSource, req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

function serve(src: AdminSource, routes: Record<string, Route>, postRoutes: Record<string, Route> = {}): http.Server {
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const route = req.method === 'GET' ? routes[path] : req.method === 'POST' ? postRoutes[path] : undefined;
    if (!route) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    Promise.resolve(route(src, req, res)).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `${e instanceof Error ? e.message : String(e)}\n`);
      else res.destroy();
    });
  });
}

/** `POST /certs/renew`: one renewal attempt, then the certificate in use. */
async function renewReply(src: AdminSource, res: http.ServerResponse): Promise<void> {
  const renew = src.certificates.renewNow;
  if (!renew) return send(res, 501, 'text/plain; charset=utf-8', 'this certificate source does not renew\n');
  const before = src.certificates.current().certChainPem;
  await renew.call(src.certificates);
  const now = src.certificates.current();
  const renewed = now.certChainPem !== before;
  send(res, renewed ? 200 : 503, 'application/json', `${JSON.stringify({ renewed, certificate: certificateInfo(now) })}\n`);
}

export function createAdminServer(src: AdminSource): http.Server {
  return serve(
    src,
    {
      '/config_dump': (s, _req, res) => send(res, 200, 'application/json', `${JSON.stringify(configDump(s), null, 2)}\n`),
      '/ready': (s, _req, res) => readinessReply(s, res),
    },
    { '/certs/renew': (s, _req, res) => renewReply(s, res) },
  );
}

export function createHealthServer(src: AdminSource): http.Server {
  return serve(src, { '/healthz/ready': (s, _req, res) => readinessReply(s, res) });
}

export function createMetricsServer(src: AdminSource): http.Server {
  return serve(src, {
    '/stats/prometheus': async (s, _req, res) => send(res, 200, s.telemetry.contentType, await s.telemetry.metrics()),
  });
}
