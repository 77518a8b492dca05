import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { initCa, formatSpiffeId } from '../../citadel/index.ts';
import { PORTS } from '../../common/ports.ts';
import type { ServiceProtocol } from '../../common/service-protocol.ts';
import { type MemoryDiscoveryServer, startMemoryDiscoveryServer } from '../../federation/index.ts';
import { loadConfigPaths } from '../../pilot/index.ts';
import { serviceHostname } from '../../xds/naming.ts';
import { locateTool, TOOL_HINT } from '../tools.ts';
import { type AddressPlan, type NetworkMode, planAddresses } from './address-plan.ts';
import { clusterPaths, GATEWAY_IDENTITY, workloadSpecs, writeClusterFiles, writeWorkloadTokens } from './cluster-files.ts';
import { DEFAULT_TOKEN_LIFETIME_SECONDS } from '../../citadel/bound-token.ts';
import { type ConsulDatacenter, startConsulDatacenters } from './consul-agents.ts';
import { consulCaFile, prepareConsulSecurity, writeFederationToken } from './consul-security.ts';
import { type ControlPlaneMode, type StartedControlPlane, spawnControlPlane } from './control-plane-procs.ts';
import { setUpNetns, tearDownNetns } from './netns.ts';
import { startPrometheus } from './prometheus.ts';
import { httpStatus, tcpOpen, waitFor } from './readiness.ts';
import { type ClusterState, type MeshState, writeState } from './state-file.ts';
import { type ManagedProcess, Supervisor } from './supervisor.ts';
import type { Topology } from './topology.ts';

export interface UpOptions {
  topology: Topology;
  stateDir: string;
  /** Default: consul when a Consul binary is found, else memory (and says so). */
  discovery?: 'consul' | 'memory';
  network?: NetworkMode;
  /** One istiod-style process per cluster (default), or each part its own process. */
  controlPlane?: ControlPlaneMode;
  /** Also run the real Prometheus, scraping every component (needs the binary). */
  prometheus?: boolean;
  /** Second octet of the loopback plan; tests give each file its own. Default 100. */
  block?: number;
  /** Progress lines for the user. */
  progress?: (line: string) => void;
  readyTimeoutMs?: number;
  /** Aborting it during start-up stops everything started so far; `up` then rejects. */
  signal?: AbortSignal;
}

/** A running local mesh. `stop()` stops every process by PID and removes namespaces. */
export interface RunningMesh {
  state: MeshState;
  plan: AddressPlan;
  processes(): readonly ManagedProcess[];
  stop(): Promise<void>;
}

/**
 * Starts a whole local multi-cluster mesh: (namespaces), Consul datacenters WAN-joined or the
 * embedded memory discovery together with the CA, then at once per cluster a control plane (Pilot,
 * Citadel, Mixer, federation; one process or four), an east-west gateway, and each workload's app
 * and sidecar. Resolves once every component reports ready; on any failure it stops what it
 * started and rejects.
 */
export async function up(opts: UpOptions): Promise<RunningMesh> {
  const say = opts.progress ?? (() => {});
  const topology = opts.topology;
  const network = opts.network ?? 'loopback';
  const plan = planAddresses(topology, network, opts.block ?? 100);
  const stateDir = path.resolve(opts.stateDir);
  const timeout = opts.readyTimeoutMs ?? 60_000;

  const configErrors: string[] = [];
  for (const c of topology.clusters) {
    const r = loadConfigPaths(c.config);
    if (!r.ok) configErrors.push(...r.errors.map((e) => `cluster ${c.name}: ${String(e)}`));
  }
  if (configErrors.length > 0) throw new Error(`invalid config:\n  ${configErrors.join('\n  ')}`);

  let discovery = opts.discovery;
  const consulBin = locateTool('consul');
  if (!discovery) {
    discovery = consulBin ? 'consul' : 'memory';
    if (!consulBin) say(`! no consul binary found: using the embedded in-memory discovery (${TOOL_HINT})`);
  }
  if (discovery === 'consul' && !consulBin) throw new Error(`--discovery consul: no consul binary found; ${TOOL_HINT}`);
  const prometheusBin = opts.prometheus ? locateTool('prometheus') : undefined;
  if (opts.prometheus && !prometheusBin) throw new Error(`--prometheus: no prometheus binary found; ${TOOL_HINT}`);

  await rm(path.join(stateDir, 'clusters'), { recursive: true, force: true });
  await rm(path.join(stateDir, 'state.json'), { force: true });
  await rm(path.join(stateDir, 'logs'), { recursive: true, force: true });
  await mkdir(stateDir, { recursive: true });

  let stopping = false;
  const supervisor = new Supervisor(path.join(stateDir, 'logs'), (p, code) => {
    if (!stopping) say(`! ${p.name} exited (code ${code}); see ${p.logFile}`);
  });
  let memory: MemoryDiscoveryServer | undefined;
  let stopped: Promise<void> | undefined;
  /** Re-mint the workloads' short-lived tokens at half their life, as the kubelet refreshes projected tokens. */
  const tokenRefresh: NodeJS.Timeout[] = [];
  /** Idempotent: a cancelled start-up and its failure path share one stop. */
  const stop = (): Promise<void> => {
    stopping = true;
    stopped ??= (async () => {
      for (const t of tokenRefresh) clearInterval(t);
      await supervisor.stopAll();
      await memory?.close();
      if (network === 'netns') await tearDownNetns(plan);
    })();
    return stopped;
  };
  const cancelStartUp = (): void => void stop();
  opts.signal?.addEventListener('abort', cancelStartUp, { once: true });

  try {
    if (network === 'netns') {
      await setUpNetns(plan);
      say(`✓ network namespaces: ${plan.clusters.map((c) => c.netns?.name).join(', ')}`);
    }

    // The CA comes first: Consul's certificates are signed by the clusters' intermediates. Consul's
    // leader election and WAN join then take about a second.
    const caDir = path.join(stateDir, 'ca');
    await initCa({ dir: caDir, clusters: topology.clusters.map((c) => c.name), trustDomain: topology.trustDomain });
    say(`✓ ca: root and ${topology.clusters.length} intermediates in ${caDir}`);
    const consulDir = path.join(stateDir, 'consul');
    const startDiscovery = async (): Promise<ConsulDatacenter[]> => {
      if (discovery === 'consul' && consulBin) {
        const security = await prepareConsulSecurity(
          consulDir,
          plan.clusters.map((c) => ({ datacenter: c.name, address: c.consul, caDir: path.join(caDir, c.name) })),
        );
        const dcs = await startConsulDatacenters(
          supervisor,
          consulBin,
          plan.clusters.map((c) => {
            const sec = security.byDatacenter.get(c.name);
            return { datacenter: c.name, address: c.consul, netns: c.netns?.name, ...(sec ? { security: sec } : {}) };
          }),
          { timeoutMs: timeout, security: security.mesh },
        );
        say(`✓ consul: datacenters ${dcs.map((d) => d.datacenter).join(', ')} WAN-joined; HTTPS, ACLs (default deny), RPC TLS and gossip encryption`);
        return dcs;
      }
      const host = plan.bridge?.address ?? `127.${plan.block}.0.1`;
      memory = await startMemoryDiscoveryServer({ host, port: 8500 });
      say(`✓ discovery: embedded in-memory store at ${memory.url}`);
      return [];
    };
    const consul = await startDiscovery();

    const clusters: ClusterState[] = [];
    const cps: { cluster: string; started: StartedControlPlane }[] = [];
    for (const [i, c] of topology.clusters.entries()) {
      const cp = plan.clusters[i];
      if (!cp) throw new Error('address plan out of step with topology');
      const paths = clusterPaths(stateDir, c.name);
      const specs = workloadSpecs(c, cp);
      await writeClusterFiles(paths, c, specs, cp.gateway, topology);
      const refresh = setInterval(() => {
        writeWorkloadTokens(paths, c.name, specs).catch((e: unknown) => say(`! ${c.name}: cannot refresh workload tokens: ${String(e)}`));
      }, (DEFAULT_TOKEN_LIFETIME_SECONDS * 1000) / 2);
      refresh.unref();
      tokenRefresh.push(refresh);
      const consulDc = consul.find((d) => d.datacenter === c.name);
      const consulFiles = consulDc?.federationToken
        ? { tokenFile: await writeFederationToken(consulDir, c.name, consulDc.federationToken), caFile: consulCaFile(consulDir, c.name) }
        : undefined;
      const discoveryArgs = consulDc
        ? [
            '--discovery', 'consul', '--consul', `${consulDc.address}:${consulDc.httpPort}`,
            ...(consulFiles ? ['--consul-token-file', consulFiles.tokenFile, '--consul-cacert', consulFiles.caFile] : []),
          ]
        : ['--discovery', 'memory', '--memory-discovery', memory?.url ?? ''];
      const started = spawnControlPlane(supervisor, {
        cluster: c.name,
        mode: opts.controlPlane ?? 'istiod',
        address: cp.controlPlane,
        trustDomain: topology.trustDomain,
        caDir: path.join(caDir, c.name),
        paths,
        gatewayAddress: cp.gateway,
        discoveryArgs,
        netns: cp.netns?.name,
      });
      cps.push({ cluster: c.name, started });
      clusters.push({
        name: c.name,
        netns: cp.netns?.name ?? null,
        configDir: paths.configDir,
        controlPlane: started.state,
        gateway: {
          address: `${cp.gateway}:${PORTS.eastWestGateway}`,
          admin: `http://${cp.gateway}:${PORTS.sidecarAdmin}`,
          metrics: `http://${cp.gateway}:${PORTS.sidecarMetrics}/stats/prometheus`,
        },
        consul: consulDc
          ? {
              http: `${consulDc.secure ? 'https' : 'http'}://${consulDc.address}:${consulDc.httpPort}`,
              datacenter: c.name,
              ...(consulFiles ? { tokenFile: consulFiles.tokenFile, caFile: consulFiles.caFile } : {}),
            }
          : null,
        workloads: specs.map((w) => ({
          cluster: c.name,
          namespace: w.namespace,
          name: w.name,
          address: w.address,
          spiffeId: formatSpiffeId({ trustDomain: topology.trustDomain, namespace: w.namespace, serviceAccount: w.serviceAccount }),
          service: { ...w.service, hostname: serviceHostname(w.service.name, w.namespace) },
          labels: w.labels,
          app: c.workloads.find((x) => x.name === w.name && x.namespace === w.namespace)?.app === 'echo' ? 'echo' : 'command',
          sidecar: w.sidecar
            ? {
                outbound: `${w.address}:${PORTS.sidecarOutbound}`,
                inbound: `${w.address}:${PORTS.sidecarInbound}`,
                admin: `http://${w.address}:${PORTS.sidecarAdmin}`,
                health: `http://${w.address}:${PORTS.sidecarHealth}/healthz/ready`,
                metrics: `http://${w.address}:${PORTS.sidecarMetrics}/stats/prometheus`,
              }
            : null,
        })),
      });
    }
    // Gateways, apps and sidecars start now, not after the control planes are ready: each retries
    // on its own (gateways and sidecars reconnect to Pilot with backoff, a sidecar retries its first
    // certificate while Citadel is unreachable). `up` still resolves only once every part is ready.
    const waits: Promise<void>[] = cps.map(({ cluster, started }) =>
      started.ready(timeout).then(() => say(`✓ ${cluster} control plane ready (${started.summary})`)),
    );
    for (const [i, c] of topology.clusters.entries()) {
      const cp = plan.clusters[i];
      const cs = clusters[i];
      if (!cp || !cs) continue;
      // The cluster's trust bundle (Istio's istio-ca-root-cert): `meshfed ca rotate` rewrites it,
      // and the gateway and sidecars reload it live.
      const rootsFile = path.join(caDir, c.name, 'root-cert.pem');
      const netns = cp.netns?.name;
      const gw = supervisor.spawnMeshfed(
        `${c.name}/gateway`,
        [
          'gateway', '--cluster', c.name, '--address', cp.gateway, '--control-plane', cp.controlPlane, '--roots', rootsFile,
          '--token-file', clusterPaths(stateDir, c.name).tokenFile(GATEWAY_IDENTITY.namespace, GATEWAY_IDENTITY.serviceAccount),
          '--trust-domain', topology.trustDomain, ...(cps[i]?.started.caArgs ?? []),
        ],
        { netns },
      );
      waits.push(
        waitFor(`${c.name}/gateway`, async () => (await httpStatus(`${cs.gateway.admin}/ready`)) === 200, {
          timeoutMs: timeout,
          failed: () => exitedReason(gw),
        }).then(() => say(`✓ ${c.name}/gateway ready on ${cs.gateway.address}`)),
      );
      for (const [wi, w] of c.workloads.entries()) {
        const ws = cs.workloads[wi];
        if (!ws) continue;
        const name = `${c.name}/${w.namespace}/${w.name}`;
        const app =
          w.app === 'echo'
            ? supervisor.spawnMeshfed(
                `${name}/app`,
                [
                  'echo', '--address', ws.address, '--port', String(w.service.port), '--protocol', echoMode(w.service.protocol),
                  '--cluster', c.name, '--namespace', w.namespace, '--workload', w.name, '--service', w.service.name,
                  ...(w.labels['version'] ? ['--version', w.labels['version']] : []),
                ],
                { netns },
              )
            : supervisor.spawn({
                name: `${name}/app`,
                command: w.app.command[0] ?? '',
                args: w.app.command.slice(1),
                netns,
                env: {
                  ...w.app.env,
                  MESHFED_ADDRESS: ws.address,
                  PORT: String(w.app.port ?? w.service.port),
                  MESHFED_OUTBOUND: `http://${ws.address}:${PORTS.sidecarOutbound}`,
                },
              });
        waits.push(
          waitFor(`${name}/app`, () => tcpOpen(ws.address, w.service.port), {
            timeoutMs: timeout,
            failed: () => exitedReason(app),
          }),
        );
        if (!w.sidecar || !ws.sidecar) continue;
        const health = ws.sidecar.health;
        const sc = supervisor.spawnMeshfed(
          `${name}/sidecar`,
          [
            'sidecar', '--cluster', c.name, '--namespace', w.namespace, '--workload', w.name,
            '--service-account', w.serviceAccount, '--address', ws.address, '--service-port', String(w.service.port),
            '--labels', JSON.stringify(w.labels), '--control-plane', cp.controlPlane, '--roots', rootsFile,
            '--token-file', clusterPaths(stateDir, c.name).tokenFile(w.namespace, w.name), '--trust-domain', topology.trustDomain,
            ...(cps[i]?.started.sidecarArgs ?? []),
          ],
          { netns },
        );
        waits.push(
          waitFor(`${name}/sidecar`, async () => (await httpStatus(health)) === 200, {
            timeoutMs: timeout,
            failed: () => exitedReason(sc),
          }).then(() => say(`✓ ${name} ready (${ws.address}, ${ws.spiffeId})`)),
        );
      }
    }
    await Promise.all(waits);

    const state: MeshState = {
      name: topology.name,
      runnerPid: process.pid,
      stateDir,
      trustDomain: topology.trustDomain,
      discovery,
      network,
      memoryDiscovery: memory?.url ?? null,
      prometheus: null,
      clusters,
    };
    if (prometheusBin) {
      const prom = await startPrometheus(supervisor, prometheusBin, state, plan.bridge?.address ?? `127.${plan.block}.0.2`);
      await waitFor('prometheus', async () => (await httpStatus(`${prom.url}/-/ready`)) === 200, {
        timeoutMs: timeout,
        failed: () => exitedReason(prom.proc),
      });
      state.prometheus = prom.url;
      say(`✓ prometheus scraping the mesh at ${prom.url} (config ${prom.configFile})`);
    }
    state.processes = supervisor.list().map((p) => ({ name: p.name, pid: p.pid }));
    if (opts.signal?.aborted) throw new Error('start-up was cancelled');
    opts.signal?.removeEventListener('abort', cancelStartUp);
    await writeState(state);
    return { state, plan, processes: () => supervisor.list(), stop };
  } catch (e: unknown) {
    await stop();
    throw e;
  }
}

/** The built-in echo app's mode for a port protocol (tls is refused by the topology parser). */
function echoMode(p: ServiceProtocol): 'http' | 'grpc' | 'tcp' {
  return p === 'grpc' ? 'grpc' : p === 'tcp' || p === 'tls' ? 'tcp' : 'http';
}

function exitedReason(p: ManagedProcess): string | undefined {
  return p.child.exitCode !== null || p.child.signalCode !== null
    ? `exited (${p.child.exitCode ?? p.child.signalCode}); see ${p.logFile}`
    : undefined;
}
