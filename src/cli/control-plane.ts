import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import {
  bootstrapTokenAuthenticator,
  createCitadelService,
  formatSpiffeId,
  issueServingCertificate,
  loadCa,
} from '../citadel/index.ts';
import type { Logger } from '../common/log.ts';
import { PORTS } from '../common/ports.ts';
import {
  createDiscoveryBackend,
  type FederationHandle,
  startFederation,
} from '../federation/index.ts';
import { createMixerService } from '../mixer/index.ts';
import { AdsServer, createPilot } from '../pilot/index.ts';

/**
 * A cluster's control plane in one process, the way istiod hosts it: Pilot (xDS), Citadel (CA),
 * Mixer (access-log sink) and the federation controller.
 *
 * - 15010: plain gRPC, ADS only (local clients, proxyless gRPC).
 * - 15012: TLS gRPC with a serving certificate from this cluster's intermediate: ADS, CA, ALS.
 * - 15014: HTTP monitoring: /ready, /metrics, /debug/adsz, /debug/configz, /debug/federationz.
 */
export interface ControlPlaneOptions {
  cluster: string;
  address: string;
  trustDomain: string;
  caDir: string;
  registryFile: string;
  tokensFile: string;
  configDir: string;
  gatewayAddress: string;
  discovery: { kind: 'consul'; host: string; port: number } | { kind: 'memory'; url: string } | { kind: 'none' };
  ports?: Partial<{ xdsPlain: number; xdsTls: number; monitoring: number }>;
  federationTtlSeconds?: number;
  logger: Logger;
}

export interface ControlPlane {
  close(): Promise<void>;
}

/** The TLS name sidecars verify on 15012 (`grpc.ssl_target_name_override`). */
export const CONTROL_PLANE_SERVER_NAME = 'istiod.istio-system.svc';

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const log = opts.logger;
  const ca = await loadCa(opts.caDir);
  const ports = { xdsPlain: PORTS.xdsPlain, xdsTls: PORTS.xdsTls, monitoring: PORTS.monitoring, ...opts.ports };

  const pilot = await createPilot({
    cluster: opts.cluster,
    trustDomain: opts.trustDomain,
    registryFile: opts.registryFile,
    configDir: opts.configDir,
    gatewayAddress: opts.gatewayAddress,
    logger: log.child({ component: 'pilot' }),
  });
  const ads = new AdsServer({ generate: (node, typeUrl) => pilot.generate(node, typeUrl), logger: log.child({ component: 'ads' }) });

  const registry = new Registry();
  const mixer = createMixerService({ registry, logger: log.child({ component: 'mixer' }) });
  const citadel = createCitadelService({
    ca,
    trustDomain: opts.trustDomain,
    authenticate: bootstrapTokenAuthenticator(opts.tokensFile, log.child({ component: 'citadel' })),
    logger: log.child({ component: 'citadel' }),
  });

  const serving = issueServingCertificate({
    ca,
    dnsNames: [CONTROL_PLANE_SERVER_NAME, 'istiod.istio-system.svc.cluster.local'],
    ipAddresses: [opts.address],
    spiffeId: formatSpiffeId({ trustDomain: opts.trustDomain, namespace: 'istio-system', serviceAccount: 'istiod' }),
    ttlSeconds: 24 * 3600,
  });

  const plain = new grpc.Server();
  ads.addTo(plain);
  const secure = new grpc.Server();
  ads.addTo(secure);
  secure.addService(citadel.definition, citadel.implementation);
  secure.addService(mixer.definition, mixer.implementation);
  await bind(plain, `${opts.address}:${ports.xdsPlain}`, grpc.ServerCredentials.createInsecure());
  await bind(
    secure,
    `${opts.address}:${ports.xdsTls}`,
    grpc.ServerCredentials.createSsl(null, [
      { private_key: Buffer.from(serving.privateKeyPem), cert_chain: Buffer.from(serving.certChainPem) },
    ]),
  );

  let federation: FederationHandle | undefined;
  if (opts.discovery.kind !== 'none') {
    const backend =
      opts.discovery.kind === 'consul'
        ? createDiscoveryBackend('consul', { host: opts.discovery.host, port: opts.discovery.port })
        : createDiscoveryBackend('memory', { url: opts.discovery.url, datacenter: opts.cluster });
    federation = await startFederation({
      cluster: opts.cluster,
      backend,
      rootCertPem: ca.rootPem,
      sink: pilot.federationSink,
      ttlSeconds: opts.federationTtlSeconds ?? 15,
      logger: log.child({ component: 'federation' }),
      onEvent: (e) => log.info({ event: e }, e.type),
    });
    federation.update(pilot.exportState());
  }

  pilot.onPush((_snap, reason) => {
    ads.push(reason);
    federation?.update(pilot.exportState());
  });

  const monitoring = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://cp');
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    switch (url.pathname) {
      case '/ready':
        json(200, { ready: true });
        return;
      case '/metrics':
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(text);
          },
          () => json(500, { error: 'metrics unavailable' }),
        );
        return;
      case '/debug/adsz':
        json(200, ads.status());
        return;
      case '/debug/configz':
        json(200, { errors: pilot.configErrors().map(String), version: pilot.snapshot().version });
        return;
      case '/debug/federationz':
        json(200, federation?.status() ?? { disabled: true });
        return;
      default:
        json(404, { error: 'not found' });
    }
  });
  await new Promise<void>((resolve, reject) => {
    monitoring.once('error', reject);
    monitoring.listen(ports.monitoring, opts.address, () => resolve());
  });
  log.info({ address: opts.address, ports }, 'control plane ready');

  return {
    async close(): Promise<void> {
      await federation?.close();
      ads.close();
      pilot.close();
      monitoring.closeAllConnections();
      await new Promise((r) => monitoring.close(() => r(undefined)));
      await Promise.all([shutdown(plain), shutdown(secure)]);
    },
  };
}

function bind(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<void> {
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (err) => (err ? reject(err) : resolve())));
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, 2000);
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
