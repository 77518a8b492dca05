import http from 'node:http';
import path from 'node:path';
import { errorMessage } from '../common/errors.ts';
import { sendFromWorkload } from './mesh-client.ts';
import { up } from './runner/up.ts';
import { findWorkload } from './runner/state-file.ts';
import { loadTopology } from './runner/topology.ts';
import { PACKAGE_ROOT } from './package-paths.ts';
import { locateTool } from './tools.ts';

export interface DemoOptions {
  stateDir: string;
  discovery?: 'consul' | 'memory';
  rps: number;
  durationSeconds?: number;
  out: (line: string) => void;
}

/** Percentile of sorted values (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] ?? 0;
}

interface Window {
  requests: number;
  ok: number;
  latencies: number[];
  byTarget: Map<string, number>;
}

const newWindow = (): Window => ({ requests: 0, ok: 0, latencies: [], byTarget: new Map() });

export function formatWindow(w: Window, elapsedS: number): string {
  const sorted = [...w.latencies].sort((a, b) => a - b);
  const shares = [...w.byTarget.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${((100 * n) / Math.max(1, w.requests)).toFixed(1)}%`)
    .join('  ');
  const okPct = w.requests === 0 ? 0 : (100 * w.ok) / w.requests;
  return (
    `t=${elapsedS.toFixed(0).padStart(4)}s  requests=${String(w.requests).padStart(5)}  success=${okPct.toFixed(1)}%  ` +
    `${shares}  p50=${percentile(sorted, 50).toFixed(1)}ms  p99=${percentile(sorted, 99).toFixed(1)}ms`
  );
}

/**
 * `npm start`: brings up the bundled two-cluster mesh, then sends `rps` requests per second from
 * east's frontend (through its sidecar) to reviews, and prints a line every 3 s with the request
 * count, success rate, the share per cluster/version and p50/p99 — cumulative since the start.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const topology = await loadTopology(path.join(PACKAGE_ROOT, 'examples', 'demo', 'mesh.yaml'));
  if (!topology.ok) throw new Error(topology.errors.join('\n'));
  opts.out('meshfed demo: starting two clusters, east and west…');
  const prometheus = locateTool('prometheus') !== undefined;
  const mesh = await up({ topology: topology.value, stateDir: opts.stateDir, discovery: opts.discovery, prometheus, progress: opts.out });
  const from = findWorkload(mesh.state, 'east/default/frontend');
  if (!from.ok) {
    await mesh.stop();
    throw new Error(from.errors.join('\n'));
  }
  opts.out(`\nmesh is up (discovery: ${mesh.state.discovery}). frontend → http://reviews:9080/ at ${opts.rps} rps; VirtualService: v1 90% / v2 10%`);
  opts.out(`try in another shell: meshfed curl --state-dir ${opts.stateDir} --from east/default/frontend http://reviews:9080/`);
  if (mesh.state.prometheus) {
    const q = 'sum by (destination_cluster, destination_workload) (rate(istio_requests_total{reporter="source", destination_service_name="reviews"}[1m]))';
    opts.out(`prometheus: ${mesh.state.prometheus}/graph?g0.expr=${encodeURIComponent(q)}`);
  }
  opts.out('');

  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const w = newWindow();
  const started = Date.now();
  let running = true;
  const send = (): void => {
    const t0 = performance.now();
    sendFromWorkload(from.value, { url: 'http://reviews:9080/', method: 'GET', headers: {}, timeoutMs: 5000 }, agent).then(
      (res) => {
        w.requests++;
        w.latencies.push(performance.now() - t0);
        let target = `HTTP ${res.status}`;
        if (res.status === 200) {
          w.ok++;
          try {
            const body = JSON.parse(res.body) as { cluster?: unknown; version?: unknown };
            target = `${String(body.cluster)}/${String(body.version)}`;
          } catch {
            target = 'unparsable';
          }
        }
        w.byTarget.set(target, (w.byTarget.get(target) ?? 0) + 1);
      },
      (e: unknown) => {
        w.requests++;
        const key = `error ${errorMessage(e)}`;
        w.byTarget.set(key, (w.byTarget.get(key) ?? 0) + 1);
      },
    );
  };
  const load = setInterval(send, Math.max(1, Math.round(1000 / Math.max(1, opts.rps))));
  const report = setInterval(() => opts.out(formatWindow(w, (Date.now() - started) / 1000)), 3000);

  await new Promise<void>((resolve) => {
    const finish = (): void => {
      if (!running) return;
      running = false;
      resolve();
    };
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    if (opts.durationSeconds !== undefined) setTimeout(finish, opts.durationSeconds * 1000);
  });
  clearInterval(load);
  clearInterval(report);
  opts.out(formatWindow(w, (Date.now() - started) / 1000));
  opts.out('stopping the mesh…');
  agent.destroy();
  await mesh.stop();
}
