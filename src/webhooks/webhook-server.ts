import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../common/log.ts';
import { type AdmissionDecision, type AdmissionRequest, admissionResponse, parseAdmissionReview } from './admission-review.ts';
import { injectAdmission } from './inject-admission.ts';
import type { InjectorSettings } from './inject-settings.ts';
import { validateAdmission } from './validate-admission.ts';

/** The API server sends at most a few MiB (etcd's object limit is 1.5 MiB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface WebhookTls {
  keyPem: string;
  /** The leaf first, then the intermediates up to (not including) the root the caBundle holds. */
  certChainPem: string;
}

export interface WebhookServerOptions {
  host: string;
  /** 15017 as installed; 0 picks a free port (tests). */
  port: number;
  tls: WebhookTls;
  injector: InjectorSettings;
  domainSuffix?: string;
  logger: Logger;
}

export interface WebhookServer {
  readonly port: number;
  /** Serves a renewed certificate from the next TLS handshake on. */
  setCertificate(tls: WebhookTls): void;
  close(): Promise<void>;
}

type Handler = (request: AdmissionRequest) => AdmissionDecision;

/**
 * The admission webhooks on HTTPS (istiod's 15017): `POST /validate` (validating) and
 * `POST /inject` (sidecar injection). Both read an `admission.k8s.io/v1` AdmissionReview and
 * answer one with the request's `uid`. A body that is not an AdmissionReview gets 400 with every
 * problem, one per line; other paths 404, other methods 405.
 * Resolves once listening; `close` stops accepting and ends idle keep-alive connections.
 */
export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const log = o.logger;
  const routes: Record<string, Handler> = {
    '/validate': (r) => validateAdmission(r, o.domainSuffix),
    '/inject': (r) => injectAdmission(r, o.injector),
  };
  const server: Server = createServer({ key: o.tls.keyPem, cert: o.tls.certChainPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res, routes, log);
  });
  server.listen(o.port, o.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  log.info({ host: o.host, port }, 'admission webhooks listening (/validate, /inject)');
  return {
    port,
    setCertificate(tls: WebhookTls): void {
      server.setSecureContext({ key: tls.keyPem, cert: tls.certChainPem, minVersion: 'TLSv1.2' });
    },
    async close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
    },
  };
}

function reply(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
}

function handle(req: IncomingMessage, res: ServerResponse, routes: Record<string, Handler>, log: Logger): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const route = routes[path];
  if (!route) {
    reply(res, 404, `no webhook at ${path} (serving /validate and /inject)`);
    return;
  }
  if (req.method !== 'POST') {
    res.setHeader('allow', 'POST');
    reply(res, 405, `${path} takes POST with an admission.k8s.io/v1 AdmissionReview`);
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_BODY_BYTES) {
      reply(res, 413, `the AdmissionReview is larger than ${MAX_BODY_BYTES} bytes`);
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    const parsed = parseAdmissionReview(Buffer.concat(chunks).toString('utf8'));
    if (!parsed.ok) {
      reply(res, 400, `malformed AdmissionReview:\n${parsed.errors.join('\n')}`);
      return;
    }
    const request = parsed.value;
    const decision = route(request);
    log.debug({ path, uid: request.uid, kind: request.kind.kind, operation: request.operation, allowed: decision.allowed }, 'admission');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(admissionResponse(request.uid, decision)));
  });
}
