import { type Command, Option } from 'commander';
import type { CaMaterial, issueServingCertificate } from '../../citadel/index.ts';
import { watchFileContents } from '../../common/file-content-watch.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { PORTS } from '../../common/ports.ts';
import { ADS_API_TYPES, type AdsApiType, isAdsApiType } from '../../xds/ads-api-type.ts';
import { CONTROL_PLANE_SERVER_NAME } from '../control-plane-name.ts';
import { exitWith, runUntilSignal } from './lifecycle.ts';
import { tokenFromFile } from './token-file.ts';
import { hostPort, keyAlgorithmOf, keyAlgorithmOption, readText } from './options.ts';
import { addCitadelAuthOptions, citadelAuthChoice } from './citadel-auth.ts';

/*
 * Each action imports its component when it runs, so that a process loads only its own
 * component: `meshfed sidecar` never loads Pilot, Consul or Mixer, `meshfed echo` none of them.
 */

/**
 * Issues the serving certificate of a standalone Citadel or Mixer (24 h; they renew it at half its
 * life) from the CA in use, which `caInUse` returns (it changes when the CA folder does).
 */
async function servingIssuer(caInUse: () => CaMaterial, address: string): Promise<() => ReturnType<typeof issueServingCertificate>> {
  const { issueServingCertificate } = await import('../../citadel/index.ts');
  return () => issueServingCertificate({ ca: caInUse(), dnsNames: [CONTROL_PLANE_SERVER_NAME], ipAddresses: [address], ttlSeconds: 24 * 3600 });
}

/** `--labels`: a JSON object of strings, or undefined. */
/** `--xds-api`: the proxy bootstrap's `ads_config.api_type` (default: the proxies' own). */
function xdsApiOption(): Option {
  return new Option('--xds-api <type>', "ADS protocol (Envoy's ads_config.api_type)").choices([...ADS_API_TYPES]);
}

function xdsApi(v: unknown): { apiType?: AdsApiType } {
  return isAdsApiType(v) ? { apiType: v } : {};
}

function parseLabels(text: string): Record<string, string> | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') return undefined;
    out[k] = v;
  }
  return out;
}

export function registerComponentCommands(program: Command): void {
  const citadel = program
    .command('citadel')
    .description("run Citadel alone: signs workload CSRs over gRPC with TLS (Istio's certificate service)")
    .requiredOption('--address <ip>')
    .option('--port <port>', 'TLS gRPC port', String(PORTS.xdsTls))
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .requiredOption('--ca-dir <dir>', "this cluster's plug-in CA folder");
  addCitadelAuthOptions(citadel)
    .option('--kubeconfig <file>', 'with --auth kube: the API server and credentials for TokenReview (default: in-cluster, then KUBECONFIG)')
    .action(async (o: Record<string, string>) => {
      const { loadCa, startCitadel, bootstrapTokenAuthenticator, boundTokenAuthenticator, tokenReviewAuthenticator, watchCaFolder } = await import('../../citadel/index.ts');
      const log = createLogger('citadel');
      const choice = citadelAuthChoice(o, 'meshfed citadel');
      if (choice.auth !== 'kube' && o['kubeconfig'] !== undefined) exitWith('meshfed citadel: --kubeconfig is used only with --auth kube');
      let authenticate: Parameters<typeof startCitadel>[0]['authenticate'];
      if (choice.auth === 'kube') {
        const { KubeConfig } = await import('@kubernetes/client-node');
        const kubeConfig = new KubeConfig();
        if (o['kubeconfig'] !== undefined) kubeConfig.loadFromFile(o['kubeconfig']);
        else kubeConfig.loadFromDefault();
        authenticate = tokenReviewAuthenticator({ kubeConfig, audience: choice.audience });
      } else if (choice.auth === 'jwt') {
        authenticate = await boundTokenAuthenticator({ publicKeyFile: choice.tokenKeyFile, issuer: choice.issuer, audience: choice.audience, logger: log });
      } else {
        authenticate = bootstrapTokenAuthenticator(choice.tokensFile, log);
      }
      const caDir = o['caDir'] ?? '';
      let ca = await loadCa(caDir);
      const issue = await servingIssuer(() => ca, o['address'] ?? '');
      const c = await startCitadel({
        host: o['address'] ?? '',
        port: Number(o['port']),
        ca,
        trustDomain: o['trustDomain'] ?? 'cluster.local',
        authenticate,
        servingCert: issue(),
        renewServing: issue,
        logger: log,
      });
      // A root rotation edits the CA folder: sign with the new intermediate and serve from it, no restart.
      const caWatch = watchCaFolder(caDir, ca, log, (next) => {
        ca = next;
        c.setCa(next);
      });
      log.info({ port: c.port }, 'citadel ready');
      runUntilSignal('citadel', log, async () => {
        caWatch.close();
        await c.close();
      });
    });

  program
    .command('mixer')
    .description('run Mixer alone: access-log sink (Envoy ALS v3) and mesh-wide metrics')
    .requiredOption('--address <ip>')
    .option('--grpc-port <port>', 'ALS gRPC port', String(PORTS.mixerGrpc))
    .option('--metrics-port <port>', 'Prometheus /metrics port', String(PORTS.mixerMetrics))
    .option('--ca-dir <dir>', "this cluster's plug-in CA folder: serve ALS over mutual TLS with a certificate from it, accepting only mesh identities (plain gRPC without)")
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the reporting sidecars (with --ca-dir)', 'cluster.local')
    .action(async (o: Record<string, string>) => {
      const { startMixer } = await import('../../mixer/index.ts');
      const log = createLogger('mixer');
      const caDir = o['caDir'];
      let tls: (ReturnType<typeof issueServingCertificate> & { clientRootsPem: string; trustDomain: string }) | undefined;
      let issue: (() => ReturnType<typeof issueServingCertificate>) | undefined;
      let follow: ((m: { setTrust(roots: string, reissue: boolean): void }) => { close(): void }) | undefined;
      if (caDir) {
        const { loadCa, watchCaFolder } = await import('../../citadel/index.ts');
        let ca = await loadCa(caDir);
        issue = await servingIssuer(() => ca, o['address'] ?? '');
        // Access logs only from mesh identities, each for its own workloads.
        tls = { ...issue(), clientRootsPem: ca.bundlePem, trustDomain: o['trustDomain'] ?? 'cluster.local' };
        // A root rotation edits the CA folder: trust its bundle and serve from its intermediate, no restart.
        follow = (m) =>
          watchCaFolder(caDir, ca, log, (next, intermediateChanged) => {
            ca = next;
            m.setTrust(next.bundlePem, intermediateChanged);
          });
      }
      const m = await startMixer({
        host: o['address'] ?? '',
        grpcPort: Number(o['grpcPort']),
        metricsPort: Number(o['metricsPort']),
        ...(tls ? { tls } : {}),
        ...(issue ? { renewServing: issue } : {}),
        logger: log,
      });
      const caWatch = follow?.(m);
      runUntilSignal('mixer', log, async () => {
        caWatch?.close();
        await m.close();
      });
    });

  program
    .command('gateway')
    .description('run an east-west gateway: TLS passthrough on 15443, routed by SNI, config from Pilot')
    .requiredOption('--cluster <name>')
    .requiredOption('--address <ip>')
    .requiredOption('--control-plane <ip>', 'control plane address (xDS over TLS on 15012)')
    .requiredOption('--roots <file>', 'root certificate(s) to verify the control plane')
    .requiredOption('--token-file <file>', "bootstrap token for Citadel (the gateway's identity istio-system/istio-eastwestgateway)")
    .option('--ca <host:port>', 'Citadel over TLS, when it runs apart from Pilot (default: the control plane)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .option('--namespace <ns>', "the gateway's namespace (its xDS node and certificate)", 'istio-system')
    .option('--service-account <sa>', "the gateway's service account (its xDS node and certificate)", 'istio-eastwestgateway')
    .option(
      '--termination-drain-duration <seconds>',
      "on SIGTERM: not ready, stop accepting, let passthrough connections run for up to this long, then close and exit 0 (Istio's terminationDrainDuration; env TERMINATION_DRAIN_DURATION_SECONDS)",
      process.env['TERMINATION_DRAIN_DURATION_SECONDS'] ?? '5',
    )
    .option('--idle-timeout <seconds>', "close a passthrough connection idle this long either way (Envoy tcp_proxy idle_timeout)", '3600')
    .option('--max-connections <n>', 'open passthrough connections; the next is refused at accept (downstream_cx_overflow)', '1048576')
    .addOption(xdsApiOption())
    .action(async (o: Record<string, string>) => {
      const drainSeconds = Number(o['terminationDrainDuration'] ?? '5');
      if (!Number.isFinite(drainSeconds) || drainSeconds < 0 || drainSeconds > 3600) exitWith('invalid --termination-drain-duration: expected seconds, 0–3600');
      const idleSeconds = Number(o['idleTimeout'] ?? '3600');
      if (!Number.isFinite(idleSeconds) || idleSeconds <= 0 || idleSeconds > 86_400) exitWith('invalid --idle-timeout: expected seconds, above 0 and at most 86400');
      const maxConnections = Number(o['maxConnections'] ?? '1048576');
      if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) exitWith('invalid --max-connections: expected a positive integer');
      const { startGateway } = await import('../../gateway/index.ts');
      const log = createLogger('gateway', { cluster: o['cluster'] ?? '' });
      const caTarget = o['ca'] ?? `${o['controlPlane']}:${PORTS.xdsTls}`;
      hostPort('--ca', caTarget);
      const rootsPem = readText('--roots', o['roots'] ?? '');
      const gw = await startGateway({
        cluster: o['cluster'] ?? '',
        address: o['address'] ?? '',
        xds: {
          target: `${o['controlPlane']}:${PORTS.xdsTls}`,
          serverName: CONTROL_PLANE_SERVER_NAME,
          rootsPem,
          ...xdsApi(o['xdsApi']),
        },
        ca: { target: caTarget, serverName: CONTROL_PLANE_SERVER_NAME, token: tokenFromFile(o['tokenFile'] ?? '', log), trustDomain: o['trustDomain'] ?? 'cluster.local' },
        identity: { namespace: o['namespace'] ?? 'istio-system', serviceAccount: o['serviceAccount'] ?? 'istio-eastwestgateway' },
        idleTimeoutMs: Math.max(1, Math.round(idleSeconds * 1000)),
        maxConnections,
        logger: log,
      });
      const drainMs = Math.round(drainSeconds * 1000);
      // A changed bundle file (a root rotation) applies live.
      const roots = watchTrustBundle(o['roots'] ?? '', rootsPem, log, (pem) => gw.setRoots(pem));
      // The force-exit timer leaves the drain its whole duration, plus time to close.
      runUntilSignal(
        'gateway',
        log,
        () => {
          roots.close();
          return gw.drain(drainMs);
        },
        drainMs + 2000,
      );
    });

  program
    .command('sidecar')
    .description("run a workload's sidecar proxy: outbound 15001, inbound mTLS 15006, admin 15000, metrics 15090")
    .requiredOption('--cluster <name>')
    .option('--namespace <ns>', 'namespace', 'default')
    .requiredOption('--workload <name>')
    .requiredOption('--service-account <sa>')
    .requiredOption('--address <ip>', "the workload's own address")
    .option('--admin-address <ip>', "where admin (15000) binds: a loopback address (Istio's 127.0.0.1 in a pod) or the workload's own address (the default; the local runner's workloads share a host)")
    .requiredOption('--service-port <port>', "the app's port")
    .option('--labels <json>', 'workload labels as a JSON object', '{}')
    .requiredOption('--control-plane <ip>', 'control plane address (xDS, CA and Mixer over TLS on 15012)')
    .option('--ca <host:port>', 'Citadel over TLS, when it runs apart from Pilot (default: the control plane)')
    .option('--mixer <host:port>', 'Mixer access-log sink, when it runs apart from Pilot (default: the control plane)')
    .option('--mixer-plaintext', 'reach --mixer without TLS (a standalone `meshfed mixer`)')
    .requiredOption('--roots <file>', 'root certificate(s)')
    .requiredOption('--token-file <file>', 'bootstrap token for Citadel')
    .option('--trust-domain <domain>', 'SPIFFE trust domain', 'cluster.local')
    .addOption(keyAlgorithmOption('the workload key'))
    .option('--capture', 'transparent capture: the app is behind `meshfed capture-init` rules (run as uid 1337); outbound arrives on 0.0.0.0:15001 and is routed by original destination')
    .option(
      '--termination-drain-duration <seconds>',
      "on SIGTERM: not ready, stop accepting, let requests in flight finish for up to this long, then exit 0 (Istio's terminationDrainDuration; env TERMINATION_DRAIN_DURATION_SECONDS)",
      process.env['TERMINATION_DRAIN_DURATION_SECONDS'] ?? '5',
    )
    .addOption(xdsApiOption())
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const str = (k: string, fallback = ''): string => {
        const v = o[k];
        return typeof v === 'string' ? v : fallback;
      };
      const drainSeconds = Number(str('terminationDrainDuration', '5'));
      if (!Number.isFinite(drainSeconds) || drainSeconds < 0 || drainSeconds > 3600) exitWith('invalid --termination-drain-duration: expected seconds, 0–3600');
      const labels = parseLabels(str('labels', '{}'));
      if (!labels) exitWith('invalid --labels: must be a JSON object of strings');
      const servicePort = Number(str('servicePort'));
      if (!Number.isInteger(servicePort) || servicePort < 1 || servicePort > 65535) exitWith('invalid --service-port');
      const rootsPem = readText('--roots', str('roots'));
      const target = `${str('controlPlane')}:${PORTS.xdsTls}`;
      /** A `host:port` flag, validated; the control plane's 15012 when it is not given. */
      const apart = (key: 'ca' | 'mixer'): string => {
        if (o[key] === undefined) return target;
        hostPort(`--${key}`, str(key));
        return str(key);
      };
      const { startSidecar } = await import('../../sidecar/index.ts');
      const log = createLogger('sidecar', { cluster: str('cluster'), workload: str('workload') });
      const sc = await startSidecar({
        workload: {
          name: str('workload'),
          namespace: str('namespace', 'default'),
          serviceAccount: str('serviceAccount'),
          cluster: str('cluster'),
          address: str('address'),
          labels,
          servicePort,
        },
        xds: { target, serverName: CONTROL_PLANE_SERVER_NAME, rootsPem, ...xdsApi(o['xdsApi']) },
        ca: { target: apart('ca'), serverName: CONTROL_PLANE_SERVER_NAME, token: tokenFromFile(str('tokenFile'), log), keyAlgorithm: keyAlgorithmOf(o['keyAlgorithm']) },
        mixer: { target: apart('mixer'), ...(o['mixerPlaintext'] === true ? { plaintext: true } : {}) },
        trustDomain: str('trustDomain', 'cluster.local'),
        ...(o['capture'] === true ? { capture: true } : {}),
        ...(typeof o['adminAddress'] === 'string' ? { adminAddress: o['adminAddress'] } : {}),
        logger: log,
      });
      const drainMs = Math.round(drainSeconds * 1000);
      // The force-exit timer leaves the drain its whole duration, plus time to close.
      const roots = watchTrustBundle(str('roots'), rootsPem, log, (pem) => sc.setRoots(pem));
      runUntilSignal(
        'sidecar',
        log,
        () => {
          roots.close();
          return sc.drain(drainMs);
        },
        drainMs + 2000,
      );
    });

  program
    .command('echo')
    .description('run the built-in echo app (HTTP; gRPC with --protocol grpc; raw TCP echo with --protocol tcp; TLS echo with --protocol tls)')
    .requiredOption('--address <ip>')
    .requiredOption('--port <port>')
    .addOption(new Option('--protocol <p>').choices(['http', 'grpc', 'tcp', 'tls']).default('http'))
    .option('--cert-file <pem>', 'with --protocol tls: the app\'s own certificate (chain), PEM')
    .option('--key-file <pem>', 'with --protocol tls: its private key, PEM')
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
        const { startEchoGrpc } = await import('../apps/echo-grpc.ts');
        const s = await startEchoGrpc(identity, host, port);
        runUntilSignal('echo', log, async () => void s.forceShutdown());
      } else if (o['protocol'] === 'tls') {
        const certFile = o['certFile'];
        const keyFile = o['keyFile'];
        if (certFile === undefined || keyFile === undefined) {
          log.error('--protocol tls needs --cert-file and --key-file');
          process.exitCode = 2;
          return;
        }
        const { readFile } = await import('node:fs/promises');
        const { startEchoTls } = await import('../apps/echo-tcp.ts');
        const s = await startEchoTls(host, port, { certPem: await readFile(certFile, 'utf8'), keyPem: await readFile(keyFile, 'utf8') });
        runUntilSignal('echo', log, () => new Promise((r) => s.close(() => r())));
      } else if (o['protocol'] === 'tcp') {
        const { startEchoTcp } = await import('../apps/echo-tcp.ts');
        const s = await startEchoTcp(host, port);
        runUntilSignal('echo', log, () => new Promise((r) => s.close(() => r())));
      } else {
        const { closeEchoHttp, startEchoHttp } = await import('../apps/echo-http.ts');
        const s = await startEchoHttp(identity, host, port);
        runUntilSignal('echo', log, () => closeEchoHttp(s));
      }
    });
}

/** Follows a `--roots` file: each changed content goes to `apply` (which logs and keeps the old bundle on failure). */
function watchTrustBundle(file: string, initial: string, log: Logger, apply: (pem: string) => Promise<void>): { close(): void } {
  return watchFileContents([file], log, { what: 'trust bundle', initial: [initial] }, async ([pem = '']) => {
    await apply(pem);
    log.info({ file }, 'trust bundle reloaded');
  });
}
