import * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '../common/log.ts';
import type { CaMaterial } from './ca-files.ts';
import type { ServingCertificate } from './ca-signer.ts';
import { MemoryCertificateProvider } from './certificate-provider.ts';
import { meshServerCredentials } from './mesh-credentials.ts';
import { renewServingCertificate } from './serving-renewal.ts';
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
  servingCert: ServingCertificate;
  /**
   * Issues a fresh serving certificate: when given, Citadel renews its own at half the life left
   * (serving-renewal.ts) and swaps it in place, as the control plane's 15012 does.
   */
  renewServing?: () => ServingCertificate;
  logger?: Logger;
}

/** A running Citadel; close() stops accepting calls, waits briefly for in-flight ones, then forces. */
export interface RunningCitadel {
  port: number;
  /** The serving certificate in use (renewed when `renewServing` was given). */
  serving(): ServingCertificate;
  /**
   * Replaces the CA in use (a root rotation changed the CA folder): CSRs are signed with `next`,
   * client certificates are checked against its bundle, and when its intermediate differs and
   * `renewServing` was given, a serving certificate from it replaces the old one at once (open
   * connections keep going). `renewServing` must issue from the CA in use.
   */
  setCa(next: CaMaterial): void;
  close(): Promise<void>;
}

/** Starts a TLS gRPC server serving only IstioCertificateService. Rejects if the port cannot be bound. */
export async function startCitadel(opts: StartCitadelOptions): Promise<RunningCitadel> {
  const logger = opts.logger ?? createLogger('citadel');
  const server = new grpc.Server();
  let ca = opts.ca;
  const svc = createCitadelService({ ca: () => ca, trustDomain: opts.trustDomain, authenticate: opts.authenticate, logger });
  server.addService(svc.definition, svc.implementation);
  // The identity comes from a provider, so a renewed certificate replaces it without a restart. Client
  // certificates are asked for (against the mesh root) but never required: callers authenticate with tokens.
  const provider = new MemoryCertificateProvider({ identity: opts.servingCert, rootsPem: opts.ca.bundlePem });
  const credentials = meshServerCredentials(provider);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  logger.info({ host: opts.host, port }, 'citadel listening');
  const renew = opts.renewServing;
  const startRenewal = (first: ServingCertificate) =>
    renew ? renewServingCertificate(first, { issue: renew, apply: (c) => provider.setIdentity(c), what: 'citadel', logger }) : undefined;
  let renewal = startRenewal(opts.servingCert);
  return {
    port,
    serving: () => renewal?.current() ?? opts.servingCert,
    setCa: (next) => {
      const intermediateChanged = !next.cert.raw.equals(ca.cert.raw);
      ca = next;
      provider.setRoots(next.bundlePem);
      if (intermediateChanged && renew) {
        renewal?.stop();
        const fresh = renew();
        provider.setIdentity(fresh);
        renewal = startRenewal(fresh);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        renewal?.stop();
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
