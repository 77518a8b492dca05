import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { loadCa, startCitadel, bootstrapTokenAuthenticator, issueServingCertificate } from '../../citadel/index.ts';
import { errorMessage } from '../../common/errors.ts';
import { createLogger } from '../../common/log.ts';
import { PORTS } from '../../common/ports.ts';
import { startGateway } from '../../gateway/index.ts';
import { startMixer } from '../../mixer/index.ts';
import { startSidecar } from '../../sidecar/index.ts';
import { startEchoGrpc } from '../apps/echo-grpc.ts';
import { startEchoHttp } from '../apps/echo-http.ts';
import { CONTROL_PLANE_SERVER_NAME, type ControlPlaneOptions, startControlPlane } from '../control-plane.ts';
import { exitWith, runUntilSignal } from './lifecycle.ts';

/** Parses `host:port`; the error names the flag. */
function hostPort(flag: string, value: string): { host: string; port: number } {
  const i = value.lastIndexOf(':');
  const port = Number(value.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) exitWith(`invalid ${flag}: expected host:port, got "${value}"`);
  return { host: value.slice(0, i), port };
}

function readText(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e: unknown) {
    return exitWith(`invalid ${flag}: ${errorMessage(e)}`);
  }
}

const labelsSchema = z.record(z.string(), z.string());

export function registerComponentCommands(program: Command): void {
  program
    .command('controlplane')
    .description("run a cluster's control plane (Pilot, Citadel, Mixer, federation) in one process, like istiod")
    .requiredOption('--cluster <name>')
    .requiredOption('--address <ip>', 'address to bind 15010, 15012 and 15014 on')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .requiredOption('--ca-dir <dir>', "this cluster's plug-in CA folder (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem)")
    .requiredOption('--registry-file <file>', 'workloads.json of the file registry')
    .requiredOption('--tokens-file <file>', 'bootstrap tokens (sha256 → identity)')
    .requiredOption('--config-dir <dir>', 'watched folder of Istio-kind YAML')
    .requiredOption('--gateway-address <ip>', "this cluster's east-west gateway address")
    .addOption(new Option('--discovery <kind>', 'federation backend').choices(['consul', 'memory', 'none']).default('none'))
    .option('--consul <host:port>', 'local Consul agent HTTP address')
    .option('--memory-discovery <url>', 'embedded discovery URL')
    .action(async (o: Record<string, string>) => {
      const log = createLogger('controlplane', { cluster: o['cluster'] ?? '' });
      let discovery: ControlPlaneOptions['discovery'] = { kind: 'none' };
      if (o['discovery'] === 'consul') {
        if (!o['consul']) exitWith('--discovery consul needs --consul host:port');
        discovery = { kind: 'consul', ...hostPort('--consul', o['consul']) };
      } else if (o['discovery'] === 'memory') {
        if (!o['memoryDiscovery']) exitWith('--discovery memory needs --memory-discovery URL');
        discovery = { kind: 'memory', url: o['memoryDiscovery'] };
      }
      const cp = await startControlPlane({
        cluster: o['cluster'] ?? '',
        address: o['address'] ?? '',
        trustDomain: o['trustDomain'] ?? 'cluster.local',
        caDir: o['caDir'] ?? '',
        registryFile: o['registryFile'] ?? '',
        tokensFile: o['tokensFile'] ?? '',
        configDir: o['configDir'] ?? '',
        gatewayAddress: o['gatewayAddress'] ?? '',
        discovery,
        logger: log,
      });
      runUntilSignal('controlplane', log, () => cp.close());
    });

  program
    .command('citadel')
    .description("run Citadel alone: signs workload CSRs over gRPC with TLS (Istio's certificate service)")
    .requiredOption('--address <ip>')
    .option('--port <port>', 'TLS gRPC port', String(PORTS.xdsTls))
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .requiredOption('--ca-dir <dir>', "this cluster's plug-in CA folder")
    .requiredOption('--tokens-file <file>', 'bootstrap tokens (sha256 → identity)')
    .action(async (o: Record<string, string>) => {
      const log = createLogger('citadel');
      const ca = await loadCa(o['caDir'] ?? '');
      const servingCert = issueServingCertificate({
        ca,
        dnsNames: [CONTROL_PLANE_SERVER_NAME],
        ipAddresses: [o['address'] ?? ''],
        ttlSeconds: 24 * 3600,
      });
      const c = await startCitadel({
        host: o['address'] ?? '',
        port: Number(o['port']),
        ca,
        trustDomain: o['trustDomain'] ?? 'cluster.local',
        authenticate: bootstrapTokenAuthenticator(o['tokensFile'] ?? '', log),
        servingCert,
        logger: log,
      });
      log.info({ port: c.port }, 'citadel ready');
      runUntilSignal('citadel', log, () => c.close());
    });

  program
    .command('mixer')
    .description('run Mixer alone: access-log sink (Envoy ALS v3) and mesh-wide metrics')
    .requiredOption('--address <ip>')
    .option('--grpc-port <port>', 'ALS gRPC port (plain)', '9091')
    .option('--metrics-port <port>', 'Prometheus /metrics port', String(PORTS.monitoring))
    .action(async (o: Record<string, string>) => {
      const log = createLogger('mixer');
      const m = await startMixer({
        host: o['address'] ?? '',
        grpcPort: Number(o['grpcPort']),
        metricsPort: Number(o['metricsPort']),
        logger: log,
      });
      runUntilSignal('mixer', log, () => m.close());
    });

  program
    .command('gateway')
    .description('run an east-west gateway: TLS passthrough on 15443, routed by SNI, config from Pilot')
    .requiredOption('--cluster <name>')
    .requiredOption('--address <ip>')
    .requiredOption('--control-plane <ip>', 'control plane address (xDS over TLS on 15012)')
    .requiredOption('--roots <file>', 'root certificate(s) to verify the control plane')
    .action(async (o: Record<string, string>) => {
      const log = createLogger('gateway', { cluster: o['cluster'] ?? '' });
      const gw = await startGateway({
        cluster: o['cluster'] ?? '',
        address: o['address'] ?? '',
        xds: {
          target: `${o['controlPlane']}:${PORTS.xdsTls}`,
          serverName: CONTROL_PLANE_SERVER_NAME,
          rootsPem: readText('--roots', o['roots'] ?? ''),
        },
        logger: log,
      });
      runUntilSignal('gateway', log, () => gw.close());
    });

  program
    .command('sidecar')
    .description("run a workload's sidecar proxy: outbound 15001, inbound mTLS 15006, admin 15000, metrics 15090")
    .requiredOption('--cluster <name>')
    .option('--namespace <ns>', 'namespace', 'default')
    .requiredOption('--workload <name>')
    .requiredOption('--service-account <sa>')
    .requiredOption('--address <ip>', "the workload's own address")
    .requiredOption('--service-port <port>', "the app's port")
    .option('--labels <json>', 'workload labels as a JSON object', '{}')
    .requiredOption('--control-plane <ip>', 'control plane address (xDS, CA and Mixer over TLS on 15012)')
    .requiredOption('--roots <file>', 'root certificate(s)')
    .requiredOption('--token-file <file>', 'bootstrap token for Citadel')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .action(async (o: Record<string, string>) => {
      const log = createLogger('sidecar', { cluster: o['cluster'] ?? '', workload: o['workload'] ?? '' });
      let labelsRaw: unknown;
      try {
        labelsRaw = JSON.parse(o['labels'] ?? '{}');
      } catch {
        exitWith('invalid --labels: not JSON');
      }
      const labels = labelsSchema.safeParse(labelsRaw);
      if (!labels.success) exitWith('invalid --labels: must be an object of strings');
      const servicePort = Number(o['servicePort']);
      if (!Number.isInteger(servicePort) || servicePort < 1 || servicePort > 65535) exitWith('invalid --service-port');
      const rootsPem = readText('--roots', o['roots'] ?? '');
      const target = `${o['controlPlane']}:${PORTS.xdsTls}`;
      const sc = await startSidecar({
        workload: {
          name: o['workload'] ?? '',
          namespace: o['namespace'] ?? 'default',
          serviceAccount: o['serviceAccount'] ?? '',
          cluster: o['cluster'] ?? '',
          address: o['address'] ?? '',
          labels: labels.data,
          servicePort,
        },
        xds: { target, serverName: CONTROL_PLANE_SERVER_NAME, rootsPem },
        ca: { target, serverName: CONTROL_PLANE_SERVER_NAME, token: readText('--token-file', o['tokenFile'] ?? '') },
        mixer: { target },
        trustDomain: o['trustDomain'] ?? 'cluster.local',
        logger: log,
      });
      runUntilSignal('sidecar', log, () => sc.close());
    });

  program
    .command('echo')
    .description('run the built-in echo app (HTTP, or gRPC with --protocol grpc)')
    .requiredOption('--address <ip>')
    .requiredOption('--port <port>')
    .addOption(new Option('--protocol <p>').choices(['http', 'grpc']).default('http'))
    .option('--cluster <name>', '', '')
    .option('--namespace <ns>', '', 'default')
    .option('--workload <name>', '', '')
    .option('--service <name>', '', '')
    .option('--version <v>', 'value of the version label')
    .action(async (o: Record<string, string | undefined>) => {
      const log = createLogger('echo');
      const identity = {
        cluster: o['cluster'] ?? '',
        namespace: o['namespace'] ?? 'default',
        workload: o['workload'] ?? '',
        service: o['service'] ?? '',
        version: o['version'] ?? null,
      };
      const host = o['address'] ?? '';
      const port = Number(o['port']);
      if (o['protocol'] === 'grpc') {
        const s = await startEchoGrpc(identity, host, port);
        runUntilSignal('echo', log, async () => void s.forceShutdown());
      } else {
        const s = await startEchoHttp(identity, host, port);
        runUntilSignal('echo', log, () => new Promise((r) => s.close(() => r())));
      }
    });
}
