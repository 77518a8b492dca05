import path from 'node:path';
import { PORTS } from '../../common/ports.ts';
import type { ClusterPaths } from './cluster-files.ts';
import { readinessFailures } from '../readiness-report.ts';
import { httpStatus, httpText, tcpOpen, waitFor } from './readiness.ts';
import type { ClusterState } from './state-file.ts';
import type { ManagedProcess, Supervisor } from './supervisor.ts';
import { tokenIssuer } from '../../citadel/bound-token.ts';

/**
 * How `meshfed up` runs a cluster's control plane:
 * - `istiod`: Pilot, Citadel, Mixer and federation in one `meshfed controlplane` process;
 * - `split`: `meshfed pilot`, `citadel`, `mixer` and `federation`, each its own process on the
 *   control-plane address (Pilot 15010/15012/15014, Citadel 8060, Mixer 9091 (TLS) and 42422,
 *   federation 15016); federation hands imports to Pilot through `<cluster>/imports/`.
 */
export type ControlPlaneMode = 'istiod' | 'split';

export interface ControlPlaneSpawn {
  cluster: string;
  mode: ControlPlaneMode;
  address: string;
  trustDomain: string;
  /** The cluster's intermediate CA folder; its `root-cert.pem` is the cluster's trust bundle (one root, two during a rotation). */
  caDir: string;
  paths: ClusterPaths;
  gatewayAddress: string;
  discoveryArgs: string[];
  netns: string | undefined;
}

export interface StartedControlPlane {
  /** What goes into the cluster's state.json entry. */
  state: ClusterState['controlPlane'];
  /** Extra sidecar flags that point at Citadel and Mixer when they run apart. */
  sidecarArgs: string[];
  /** Extra `meshfed gateway` arguments (`--ca` when Citadel runs apart). */
  caArgs: string[];
  /** Resolves once every part answers; rejects when one exits first. */
  ready(timeoutMs: number): Promise<void>;
  /** What runs, for progress lines. */
  summary: string;
}

interface Probe {
  check: () => Promise<boolean>;
  /** What the last check found missing, for the timeout message. */
  pending?: () => string | undefined;
}

interface Part {
  name: string;
  proc: ManagedProcess;
  probe: Probe;
}

const httpOk = (url: string): Probe => ({ check: async () => (await httpStatus(url)) === 200 });

/** `/ready` answering 200; until then, the failing checks of its last report. */
function readyOk(url: string): Probe {
  let failing: string | undefined;
  return {
    check: async () => {
      const r = await httpText(url);
      failing = r && r.status !== 200 ? readinessFailures(r.body) : undefined;
      return r?.status === 200;
    },
    pending: () => failing,
  };
}

export function spawnControlPlane(supervisor: Supervisor, s: ControlPlaneSpawn): StartedControlPlane {
  const a = s.address;
  const opts = { netns: s.netns };
  const monitoring = `http://${a}:${PORTS.monitoring}`;
  const common = ['--cluster', s.cluster, '--mesh-config', s.paths.meshConfigFile, '--registry-file', s.paths.registryFile, '--config-dir', s.paths.configDir, '--gateway-address', s.gatewayAddress];
  const base = { address: a, xds: `${a}:${PORTS.xdsPlain}`, xdsTls: `${a}:${PORTS.xdsTls}`, monitoring };
  const parts: Part[] = [];
  const spawn = (part: string, args: string[], probe: Probe): void => {
    parts.push({ name: part, proc: supervisor.spawnMeshfed(`${s.cluster}/${part}`, args, opts), probe });
  };

  // Tokens bound to one workload, signed with the cluster's key (cluster-files.ts mints them).
  const citadelAuth = ['--auth', 'jwt', '--token-key', s.paths.tokenPublicKeyFile, '--token-issuer', tokenIssuer(s.cluster)];
  let state: ClusterState['controlPlane'];
  let sidecarArgs: string[] = [];
  let caArgs: string[] = [];
  if (s.mode === 'istiod') {
    spawn('controlplane', ['controlplane', ...common, '--address', a, '--ca-dir', s.caDir, ...citadelAuth, ...s.discoveryArgs], readyOk(`${monitoring}/ready`));
    state = base;
  } else {
    const importsDir = path.join(s.paths.dir, 'imports');
    const split = {
      citadel: `${a}:${PORTS.citadel}`,
      mixer: `${a}:${PORTS.mixerGrpc}`,
      mixerMetrics: `http://${a}:${PORTS.mixerMetrics}/metrics`,
      federation: `http://${a}:${PORTS.federationMonitoring}`,
    };
    spawn('pilot', ['pilot', ...common, '--address', a, '--ca-dir', s.caDir, '--imports-dir', importsDir], readyOk(`${monitoring}/ready`));
    spawn(
      'citadel',
      ['citadel', '--address', a, '--port', String(PORTS.citadel), '--trust-domain', s.trustDomain, '--ca-dir', s.caDir, ...citadelAuth],
      { check: () => tcpOpen(a, PORTS.citadel) },
    );
    spawn(
      'mixer',
      ['mixer', '--address', a, '--grpc-port', String(PORTS.mixerGrpc), '--metrics-port', String(PORTS.mixerMetrics), '--ca-dir', s.caDir],
      httpOk(split.mixerMetrics),
    );
    spawn(
      'federation',
      [
        'federation', ...common, '--root-cert', path.join(s.caDir, 'root-cert.pem'), '--imports-dir', importsDir,
        ...s.discoveryArgs, '--monitoring', `${a}:${PORTS.federationMonitoring}`,
      ],
      readyOk(`${split.federation}/ready`),
    );
    state = { ...base, split };
    sidecarArgs = ['--ca', split.citadel, '--mixer', split.mixer];
    caArgs = ['--ca', split.citadel];
  }

  return {
    state,
    sidecarArgs,
    caArgs,
    summary: s.mode === 'istiod' ? 'pilot, citadel, mixer, federation in one process' : `${parts.map((p) => p.name).join(', ')} as separate processes`,
    ready: async (timeoutMs) => {
      await Promise.all(
        parts.map((p) =>
          waitFor(`${s.cluster}/${p.name}`, p.probe.check, {
            timeoutMs,
            ...(p.probe.pending ? { pending: p.probe.pending } : {}),
            failed: () =>
              p.proc.child.exitCode !== null || p.proc.child.signalCode !== null
                ? `exited (${p.proc.child.exitCode ?? p.proc.child.signalCode}); see ${p.proc.logFile}`
                : undefined,
          }),
        ),
      );
    },
  };
}
