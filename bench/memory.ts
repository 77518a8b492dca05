import { sleep } from './children.ts';
import type { PathResult } from './measure.ts';
import { rssMiB } from './proc-stats.ts';
import type { WatchedProcess } from './target.ts';

/**
 * Memory of every mesh component and how long `meshfed up` took: VmRSS of each process once the
 * mesh is ready and has settled (idle), and the largest VmRSS each was seen at after a load run
 * (loaded). Nothing here is a threshold: the figures go into the report and BENCHMARKS.md.
 */

/** One component's memory. `loadedMiB` is null for a process no load run went through. */
export interface ComponentMemory {
  name: string;
  kind: WatchedProcess['kind'];
  idleMiB: number | null;
  loadedMiB: number | null;
}

/** What the mesh start-up costs. */
export interface MeshStartup {
  /** From calling the runner's `up` until it resolved (every component ready). */
  upMs: number;
  /** Seconds waited after `up` before the idle RSS was read. */
  settleS: number;
  components: ComponentMemory[];
}

/** Reads every process's VmRSS after `settleS` seconds without load. */
export async function idleMemory(procs: readonly WatchedProcess[], settleS: number): Promise<ComponentMemory[]> {
  await sleep(settleS * 1000);
  return procs.map((p) => ({ name: p.name, kind: p.kind, idleMiB: rssMiB(p.pid) ?? null, loadedMiB: null }));
}

/** Fills each component's `loadedMiB` with the largest RSS any mesh path's runs left it at. */
export function withLoadedMemory(components: readonly ComponentMemory[], paths: readonly PathResult[]): ComponentMemory[] {
  return components.map((c) => {
    const seen = paths
      .flatMap((p) => p.processes ?? [])
      .filter((p) => p.name === c.name)
      .flatMap((p) => [p.rssMiB, p.rssAtRateMiB])
      .filter((v): v is number => v !== null);
    return { ...c, loadedMiB: seen.length > 0 ? Math.max(...seen) : null };
  });
}
