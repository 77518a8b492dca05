import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '../common/log.ts';
import type { CaMaterial } from './ca-files.ts';
import { type Authenticator, createCitadelService } from './ca-service.ts';

/** Options of startCitadel (the standalone `meshfed citadel` command). */
export interface StartCitadelOptions {
  host: string;
  /** Usually PORTS.xdsTls (15012); 0 picks a free port. */
  port: number;
  ca: CaMaterial;
  trustDomain: string;
  authenticate: Authenticator;
  /** The server's own TLS key and certificate chain (see issueServingCertificate). */
  servingCert: { privateKeyPem: string; certChainPem: string };
  logger?: Logger;
}

/** A running Citadel; close() stops accepting calls, waits briefly for in-flight ones, then forces. */
export interface RunningCitadel {
  port: number;
  close(): Promise<void>;
}

/** Starts a TLS gRPC server serving only IstioCertificateService. Rejects if the port cannot be bound. */
export async function startCitadel(opts: StartCitadelOptions): Promise<RunningCitadel> {
  const logger = opts.logger ?? createLogger('citadel');
  const server = new grpc.Server();
  const svc = createCitadelService({ ca: opts.ca, trustDomain: opts.trustDomain, authenticate: opts.authenticate, logger });
  server.addService(svc.definition, svc.implementation);
  const credentials = grpc.ServerCredentials.createSsl(
    null,
    [{ private_key: Buffer.from(opts.servingCert.privateKeyPem), cert_chain: Buffer.from(opts.servingCert.certChainPem) }],
    false,
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  logger.info({ host: opts.host, port }, 'citadel listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
