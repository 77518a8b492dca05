import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import type { TestFn } from 'ava';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MeshRequest, type MeshResponse, sendFromWorkload } from '../../../src/cli/mesh-client.ts';
import type { NetworkMode } from '../../../src/cli/runner/address-plan.ts';
import type { ControlPlaneMode } from '../../../src/cli/runner/control-plane-procs.ts';
import { findWorkload, type MeshState } from '../../../src/cli/runner/state-file.ts';
import { locateTool, TOOL_HINT } from '../../../src/cli/tools.ts';
import { meshfed } from '../../support/cli.ts';
import { startMeshfedUp, type UpProcessHandle } from '../../support/meshfed-up.ts';

export const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mesh.yaml');

/** A fixture mesh run by the compiled `meshfed up`, and the folder it keeps its state in. */
export type FixtureMesh = Omit<UpProcessHandle, 'stop'> & { stateDir: string; stop(): Promise<void> };

/**
 * Starts the two-cluster fixture mesh with real Consul (two WAN-joined datacenters) the way a user
 * does: the compiled `meshfed up` as its own process. Fails — never skips — when Consul is missing.
 * The caller owns the result and must `stop()` it: Ctrl-C to the runner, then every PID in
 * state.json is checked gone (a leftover is killed by PID and fails the stop), then `stateDir` is
 * removed.
 */
export async function startFixtureMesh(opts: {
  block: number;
  network: NetworkMode;
  controlPlane?: ControlPlaneMode;
  prometheus?: boolean;
  /** The topology file; the default is the shared two-cluster FIXTURE. */
  topology?: string;
}): Promise<FixtureMesh> {
  if (!locateTool('consul')) throw new Error(`end-to-end tests need the real consul binary: ${TOOL_HINT}`);
  if (opts.prometheus && !locateTool('prometheus')) throw new Error(`end-to-end tests need the real prometheus binary: ${TOOL_HINT}`);
  const stateDir = await mkdtemp(path.join(tmpdir(), `meshfed-e2e-${opts.block}-`));
  try {
    const handle = await startMeshfedUp({
      label: `e2e ${opts.block}`,
      stateDir,
      args: [
        '-f', opts.topology ?? FIXTURE, '--state-dir', stateDir, '--discovery', 'consul', '--network', opts.network,
        '--address-block', String(opts.block),
        ...(opts.controlPlane ? ['--control-plane', opts.controlPlane] : []),
        ...(opts.prometheus ? ['--prometheus'] : []),
      ],
      readyTimeoutMs: 120_000,
    });
    return {
      ...handle,
      stateDir,
      stop: async () => {
        const leftovers = await handle.stop();
        await rm(stateDir, { recursive: true, force: true });
        if (leftovers.length > 0) throw new Error(`meshfed up left processes behind (killed by PID): ${leftovers.join(', ')}`);
      },
    };
  } catch (e: unknown) {
    await rm(stateDir, { recursive: true, force: true });
    throw e;
  }
}

/** What the e2e files keep in `t.context`. */
export interface FixtureMeshContext {
  mesh: FixtureMesh;
  state: MeshState;
}

/**
 * Starts the fixture mesh before a file's tests and stops it (every process by PID, then its
 * state folder) after them, even when they fail.
 */
export function useFixtureMesh(test: TestFn<FixtureMeshContext>, opts: Parameters<typeof startFixtureMesh>[0]): void {
  test.before(async (t) => {
    const mesh = await startFixtureMesh(opts);
    t.context = { mesh, state: mesh.state };
  });
  test.after.always(async (t) => {
    const mesh = (t.context as Partial<FixtureMeshContext>).mesh;
    if (!mesh) return;
    await mesh.stop();
  });
}

export function request(state: MeshState, from: string, url: string, init: Partial<MeshRequest> = {}): Promise<MeshResponse> {
  const w = findWorkload(state, from);
  if (!w.ok) throw new Error(w.errors.join('; '));
  return sendFromWorkload(w.value, { url, method: 'GET', headers: {}, timeoutMs: 5000, ...init });
}

export { eventually } from '../../support/eventually.ts';

/** Sample lines of a Prometheus text exposition whose name and labels all match. */
export function samples(text: string, name: string, labels: Record<string, string>): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const body = line.slice(name.length + 1, close);
    const ok = Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`));
    if (ok) out.push(Number(line.slice(close + 1).trim()));
  }
  return out;
}

export async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

/** One instant query against Prometheus's HTTP API: each series' labels and value. */
export async function promQuery(baseUrl: string, query: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${baseUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const doc = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (doc.status !== 'success' || !doc.data) throw new Error(`prometheus query ${query}: ${doc.error ?? res.status}`);
  return doc.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/**
 * `meshfed apply` of a YAML text to one cluster of the running fixture mesh, as a user runs it
 * (the compiled CLI). Throws with its stderr when apply refuses; the temporary file goes with the test.
 */
export async function applyYaml(
  t: { context: FixtureMeshContext; teardown(fn: () => Promise<void>): void },
  yaml: string,
  cluster = 'east',
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-apply-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, yaml);
  const r = await meshfed(['apply', '--state-dir', t.context.mesh.stateDir, '--cluster', cluster, '-f', file]);
  if (r.code !== 0) throw new Error(`meshfed apply failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * `meshfed delete -f` of a YAML text from one cluster of the running fixture mesh (the compiled
 * CLI, as `kubectl delete -f`). Throws with its stderr when delete fails; `ignoreNotFound` passes
 * `--ignore-not-found` (for teardowns).
 */
export async function deleteYaml(
  t: { context: FixtureMeshContext },
  yaml: string,
  cluster = 'east',
  opts: { ignoreNotFound?: boolean } = {},
): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-delete-'));
  try {
    const file = path.join(dir, 'config.yaml');
    await writeFile(file, yaml);
    const r = await meshfed([
      'delete', '--state-dir', t.context.mesh.stateDir, '--cluster', cluster, '-f', file, ...(opts.ignoreNotFound ? ['--ignore-not-found'] : []),
    ]);
    if (r.code !== 0) throw new Error(`meshfed delete failed: ${r.stderr}`);
    return r.stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What it takes to start a process again as it was: its command line, environment and folder. */
export async function processRecipe(pid: number): Promise<{ argv: string[]; env: Record<string, string>; cwd: string }> {
  const split = (text: string) => text.split('\0').filter((x) => x !== '');
  const argv = split(await readFile(`/proc/${pid}/cmdline`, 'utf8'));
  const env = Object.fromEntries(split(await readFile(`/proc/${pid}/environ`, 'utf8')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { argv, env, cwd: await readlink(`/proc/${pid}/cwd`) };
}

/** Resolves once `child` has exited (at once if it already has). */
export function waitExit(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}
