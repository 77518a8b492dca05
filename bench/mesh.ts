import path from 'node:path';
import { BENCH_DIR } from './children.ts';
import type { PathTarget, WatchedProcess } from './target.ts';

/** The running benchmark mesh and the two paths through it. */
export interface BenchMesh {
  sidecars: PathTarget;
  crossCluster: PathTarget;
  logDir: string;
  /** ms from calling `up` until it resolved: every component ready. */
  upMs: number;
  /** Every process the mesh runs (control planes, gateways, sidecars, apps). */
  allProcesses(): WatchedProcess[];
  stop(): Promise<void>;
}

export const MESH_FILE = path.join(BENCH_DIR, 'mesh.yaml');

function kindOf(name: string): WatchedProcess['kind'] {
  if (name.endsWith('/sidecar')) return 'sidecar';
  if (name.endsWith('/gateway')) return 'gateway';
  if (name.endsWith('/app')) return 'app';
  if (/\/(controlplane|pilot|citadel|mixer|federation)$/.test(name)) return 'control-plane';
  return 'other';
}

/**
 * Brings up bench/mesh.yaml with the CLI's runner (memory discovery, loopback addresses in
 * 127.<block>.x.y) and describes the two mesh paths. The runner is imported lazily so that the
 * direct and nginx paths still run while the mesh components cannot even be loaded.
 * On failure `up` has already stopped whatever it started.
 */
export async function startBenchMesh(opts: {
  stateDir: string;
  block: number;
  readyTimeoutMs: number;
  progress: (line: string) => void;
}): Promise<BenchMesh> {
  const { loadTopology } = await import('../src/cli/runner/topology.ts');
  const { up } = await import('../src/cli/runner/up.ts');
  const topo = await loadTopology(MESH_FILE);
  if (!topo.ok) throw new Error(`${MESH_FILE}: ${topo.errors.join('; ')}`);
  const upStarted = performance.now();
  const mesh = await up({
    topology: topo.value,
    stateDir: opts.stateDir,
    discovery: 'memory',
    network: 'loopback',
    block: opts.block,
    progress: opts.progress,
    readyTimeoutMs: opts.readyTimeoutMs,
  });
  const upMs = performance.now() - upStarted;
  try {
    const east = mesh.state.clusters.find((c) => c.name === 'east');
    const client = east?.workloads.find((w) => w.name === 'client');
    const server = east?.workloads.find((w) => w.name === 'server');
    const remote = mesh.state.clusters.find((c) => c.name === 'west')?.workloads.find((w) => w.name === 'remote');
    if (!client?.sidecar || !server || !remote) throw new Error('mesh state lacks east/client (with sidecar), east/server or west/remote');

    const watch = (names: readonly string[]) => (): WatchedProcess[] =>
      names.flatMap((n) => {
        const p = mesh.processes().find((x) => x.name === n);
        return p ? [{ name: n, pid: p.pid, kind: kindOf(n) }] : [];
      });
    const controlPlanes = ['east/controlplane', 'west/controlplane'];
    const outbound = `http://${client.sidecar.outbound}/`;
    return {
      logDir: path.join(opts.stateDir, 'logs'),
      upMs,
      allProcesses: () => mesh.processes().map((p) => ({ name: p.name, pid: p.pid, kind: kindOf(p.name) })),
      stop: () => mesh.stop(),
      sidecars: {
        id: 'sidecars',
        title: 'sidecar pair (mTLS h2)',
        url: outbound,
        host: `${server.service.hostname}:${server.service.port}`,
        processes: watch([
          'east/default/client/sidecar',
          'east/default/server/sidecar',
          'east/default/server/app',
          ...controlPlanes,
        ]),
      },
      crossCluster: {
        id: 'cross-cluster',
        title: 'cross-cluster via east-west gateway',
        url: outbound,
        host: `${remote.service.hostname}:${remote.service.port}`,
        processes: watch([
          'east/default/client/sidecar',
          'west/gateway',
          'west/default/remote/sidecar',
          'west/default/remote/app',
          ...controlPlanes,
        ]),
      },
    };
  } catch (e: unknown) {
    await mesh.stop();
    throw e;
  }
}
