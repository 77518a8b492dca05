import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { MemoryCertificateProvider } from '../citadel/certificate-provider.ts';
import { meshServerCredentials } from '../citadel/mesh-credentials.ts';
import { Registry } from '../common/prom.ts';
import { errorMessage } from '../common/errors.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { createMixerService, type MixerStats } from './access-log-service.ts';
import { MixerListenError, MixerOptionsError } from './errors.ts';
import type { ServingCertificate } from '../citadel/ca-signer.ts';
import { renewServingCertificate } from '../citadel/serving-renewal.ts';
import { CertificateMetrics } from '../common/cert-metrics.ts';

/** Options of startMixer (the standalone `meshfed mixer` command). Ports may be 0 (free port). */
export interface StartMixerOptions {
  host: string;
  grpcPort: number;
  metricsPort: number;
  /** Serve the gRPC port over TLS with this key and chain (PEM); plain gRPC without it. */
  /**
   * Serve TLS with this certificate. With `clientRootsPem`, streams also need a mesh client
   * certificate verified against it, whose identity (in `trustDomain`) is what they may report for.
   */
  tls?: { privateKeyPem: string; certChainPem: string; clientRootsPem?: string; trustDomain?: string; notAfter?: Date };
  /**
   * Issues a fresh serving certificate: with it (and `tls.clientRootsPem`, `tls.notAfter`), Mixer
   * renews its own at half the life left (serving-renewal.ts) and exposes its expiry and renewal
   * failures on /metrics.
   */
  renewServing?: () => ServingCertificate;
  logger?: Logger;
}

/** A running standalone Mixer; close() stops both servers (in-flight streams are cancelled). */
export interface MixerHandle {
  grpcPort: number;
  metricsPort: number;
  registry: Registry;
  stats(): MixerStats;
  /**
   * A root rotation changed the CA folder: sidecars' certificates are checked against
   * `clientRootsPem` from now on, and with `reissue` (its intermediate changed) a serving
   * certificate from `renewServing`, which must issue from the CA in use, replaces the old one at
   * once. Open streams keep going. Throws for a Mixer started without mesh TLS (a programmer error).
   */
  setTrust(clientRootsPem: string, reissue: boolean): void;
  close(): Promise<void>;
}

function checkPort(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new MixerOptionsError(`invalid ${field}: ${value}`);
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Starts Mixer standalone: a gRPC server (TLS when `tls` is given) with the access-log service, and an HTTP server
 * with `/metrics` (its own Registry). Rejects with MixerListenError when a port is taken, leaving
 * nothing running.
 */
export async function startMixer(opts: StartMixerOptions): Promise<MixerHandle> {
  if (opts.host === '') throw new MixerOptionsError('invalid host: empty');
  checkPort(opts.grpcPort, 'grpcPort');
  checkPort(opts.metricsPort, 'metricsPort');
  if (opts.renewServing && (opts.tls?.clientRootsPem === undefined || opts.tls.notAfter === undefined)) {
    throw new MixerOptionsError('invalid renewServing: needs tls with clientRootsPem and notAfter');
  }
  const logger = opts.logger ?? createLogger('mixer');
  const registry = new Registry();
  let provider: MemoryCertificateProvider | undefined;
  const mesh = opts.tls?.clientRootsPem;
  const service = createMixerService({ registry, logger, ...(mesh ? { peerIdentity: { trustDomain: opts.tls?.trustDomain ?? 'cluster.local' } } : {}) });
  const server = new grpc.Server();
  server.addService(service.definition, service.implementation);
  const grpcPort = await new Promise<number>((resolve, reject) => {
    provider = opts.tls?.clientRootsPem ? new MemoryCertificateProvider({ identity: opts.tls, rootsPem: opts.tls.clientRootsPem }) : undefined;
    const credentials = provider
      ? meshServerCredentials(provider)
      : opts.tls
      ? grpc.ServerCredentials.createSsl(null, [
          { private_key: Buffer.from(opts.tls.privateKeyPem), cert_chain: Buffer.from(opts.tls.certChainPem) },
        ])
      : grpc.ServerCredentials.createInsecure();
    server.bindAsync(hostPort(opts.host, opts.grpcPort), credentials, (err, bound) =>
      err ? reject(new MixerListenError(`gRPC on ${hostPort(opts.host, opts.grpcPort)}`, err)) : resolve(bound),
    );
  });

  const httpServer = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (e: unknown) => {
        logger.error({ err: errorMessage(e) }, 'metrics rendering failed');
        res.writeHead(500).end();
      },
    );
  });
  let metricsPort: number;
  try {
    metricsPort = await new Promise<number>((resolve, reject) => {
      httpServer.once('error', (e: unknown) => reject(new MixerListenError(`metrics on ${hostPort(opts.host, opts.metricsPort)}`, e)));
      httpServer.listen(opts.metricsPort, opts.host, () => resolve((httpServer.address() as AddressInfo).port));
    });
  } catch (e: unknown) {
    server.forceShutdown();
    throw e;
  }
  logger.info({ host: opts.host, grpcPort, metricsPort, tls: opts.tls !== undefined }, 'mixer listening');
  const tls = opts.tls;
  const identity = provider;
  const renew = opts.renewServing;
  const certMetrics = renew && identity ? new CertificateMetrics(registry) : undefined;
  const startRenewal = (first: ServingCertificate) =>
    renew && identity ? renewServingCertificate(first, { issue: renew, apply: (c) => identity.setIdentity(c), what: 'mixer', logger, ...(certMetrics ? { metrics: certMetrics } : {}) }) : undefined;
  let renewal = tls?.notAfter ? startRenewal({ ...tls, rootPem: tls.clientRootsPem ?? '', notAfter: tls.notAfter }) : undefined;
  return {
    grpcPort,
    metricsPort,
    registry,
    stats: service.stats,
    setTrust: (clientRootsPem, reissue) => {
      if (!identity) throw new MixerOptionsError('setTrust: this Mixer was started without mesh TLS');
      identity.setRoots(clientRootsPem);
      if (reissue && renew) {
        renewal?.stop();
        const fresh = renew();
        identity.setIdentity(fresh);
        renewal = startRenewal(fresh);
      }
    },
    close: async () => {
      renewal?.stop();
      server.forceShutdown();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
    },
  };
}
