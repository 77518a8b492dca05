/**
 * `meshfed ca rotate`: a root rotation across every cluster of a running `meshfed up` mesh, the
 * way Istio's plug-in CA guide runs it, with the components reloading live (no restart):
 *
 * 1. distribute: the new root joins every cluster's trust bundle; waits until every control
 *    plane (its 15012 clients, Citadel, federation), gateway and sidecar reports both roots;
 * 2. reissue: every cluster's intermediate is reissued under the new root; waits until each
 *    Citadel signs under it and each 15012 serves a certificate from it, asks every gateway and
 *    sidecar to renew (admin `POST /certs/renew`), and waits until every workload certificate
 *    chains to the new root;
 * 3. drop: the old root leaves every bundle (refused while a certificate still chains to it);
 *    waits until every component reports the new root alone.
 *
 * Each phase is idempotent (the CA folder phases skip what is done; the waits pass at once when
 * the mesh is already there), so a failed run is resumed with `--phase`. Waits poll the
 * components' admin and monitoring endpoints; a wait that times out fails with the components
 * that are not there yet and what they report.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type PhaseReport, ROTATION_FILES, ROTATION_PHASES, type RotationPhase, runRotationPhase } from '../citadel/index.ts';
import type { KeyAlgorithm } from '../citadel/key-algorithm.ts';
import { errorMessage } from '../common/errors.ts';
import { httpText } from './runner/readiness.ts';
import { type MeshState, readState } from './runner/state-file.ts';

/** Options of rotateMeshRoot. */
export interface RotateOptions {
  stateDir: string;
  /** One phase, or all three in order (default). */
  phase?: RotationPhase | 'all';
  /** How long each wait may take (default 60 s). */
  timeoutMs?: number;
  /** Poll period of the waits (default 200 ms). */
  pollMs?: number;
  keyAlgorithm?: KeyAlgorithm;
  /** Progress lines. */
  out: (line: string) => void;
}

/** What one component reports about its trust. */
interface TrustReport {
  roots: string[];
  /** The root its own certificate chains to (control plane: its 15012 serving certificate). */
  chainRoot: string | null;
  /** Control planes: the root Citadel signs under. */
  signingRoot?: string;
  /** Control planes hosting federation: the bundle it published. */
  federationRoots?: string[];
}

/** A component `meshfed ca rotate` watches. */
interface Component {
  name: string;
  kind: 'control-plane' | 'gateway' | 'sidecar' | 'federation';
  read(): Promise<TrustReport | string>;
  /** Gateways and sidecars: renew the workload certificate now. */
  renew?: () => Promise<void>;
}

const stringArray = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);

async function getJson(url: string): Promise<Record<string, unknown> | string> {
  const r = await httpText(url, 2000, 4 * 1024 * 1024);
  if (!r) return `${url}: not answering`;
  if (r.status !== 200) return `${url}: HTTP ${r.status}`;
  try {
    const v: unknown = JSON.parse(r.body);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : `${url}: not a JSON object`;
  } catch {
    return `${url}: not JSON`;
  }
}

/** Reads `rootFingerprints` and `chainRoot` of a certificate-info object. */
function certReport(info: unknown, where: string): TrustReport | string {
  if (typeof info !== 'object' || info === null) return `${where}: no certificate info`;
  const o = info as Record<string, unknown>;
  const roots = stringArray(o['rootFingerprints']);
  if (!roots) return `${where}: no rootFingerprints (an older meshfed?)`;
  return { roots, chainRoot: typeof o['chainRoot'] === 'string' ? o['chainRoot'] : null };
}

async function post(url: string): Promise<void> {
  try {
    const r = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(15_000) });
    await r.text();
  } catch {
    // The wait that follows reports a component that did not renew.
  }
}

function componentsOf(state: MeshState): Component[] {
  const out: Component[] = [];
  for (const c of state.clusters) {
    out.push({
      name: `${c.name}/control-plane`,
      kind: 'control-plane',
      read: async () => {
        const j = await getJson(`${c.controlPlane.monitoring}/debug/trustz`);
        if (typeof j === 'string') return j;
        const roots = stringArray(j['rootFingerprints']);
        if (!roots) return `${c.name}/control-plane: /debug/trustz has no rootFingerprints`;
        const fed = stringArray(j['federationRootFingerprints']);
        return {
          roots,
          chainRoot: typeof j['servingChainRoot'] === 'string' ? j['servingChainRoot'] : null,
          ...(typeof j['signingRoot'] === 'string' ? { signingRoot: j['signingRoot'] } : {}),
          ...(fed ? { federationRoots: fed } : {}),
        };
      },
    });
    const split = c.controlPlane.split;
    if (split) {
      out.push({
        name: `${c.name}/federation`,
        kind: 'federation',
        read: async () => {
          const j = await getJson(`${split.federation}/debug/federationz`);
          if (typeof j === 'string') return j;
          const roots = stringArray(j['rootFingerprints']);
          return roots ? { roots, chainRoot: null, federationRoots: roots } : `${c.name}/federation: no rootFingerprints`;
        },
      });
    }
    out.push({
      name: `${c.name}/gateway`,
      kind: 'gateway',
      read: async () => {
        const j = await getJson(`${c.gateway.admin}/certs`);
        return typeof j === 'string' ? j : certReport(j, `${c.name}/gateway`);
      },
      renew: () => post(`${c.gateway.admin}/certs/renew`),
    });
    for (const w of c.workloads) {
      const sc = w.sidecar;
      if (!sc) continue;
      const name = `${c.name}/${w.namespace}/${w.name}`;
      out.push({
        name,
        kind: 'sidecar',
        read: async () => {
          const j = await getJson(`${sc.admin}/config_dump`);
          return typeof j === 'string' ? j : certReport(j['certificate'], name);
        },
        renew: () => post(`${sc.admin}/certs/renew`),
      });
    }
  }
  return out;
}

const short = (fp: string | null | undefined): string => (fp ? fp.slice(0, 11) : 'none');
const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * Polls every component until `ok` holds for each (returns undefined) or the timeout passes; the
 * error names each component still failing with `why`.
 */
async function waitAll(
  what: string,
  components: readonly Component[],
  ok: (c: Component, r: TrustReport) => boolean,
  why: (r: TrustReport) => string,
  o: Required<Pick<RotateOptions, 'timeoutMs' | 'pollMs'>> & Pick<RotateOptions, 'out'>,
  onPending?: (pending: Component[]) => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const reports = await Promise.all(components.map(async (c) => ({ c, r: await c.read() })));
    const pending = reports.filter(({ c, r }) => typeof r === 'string' || !ok(c, r));
    if (pending.length === 0) {
      o.out(`✓ ${what}: all ${components.length} components`);
      return;
    }
    if (Date.now() >= deadline) {
      const lines = pending.map(({ c, r }) => `  ${c.name}: ${typeof r === 'string' ? r : why(r)}`);
      throw new Error(`timed out waiting until ${what}:\n${lines.join('\n')}`);
    }
    await onPending?.(pending.map((p) => p.c));
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
}

/** Runs the requested phase(s); throws an Error naming the cause when one fails. */
export async function rotateMeshRoot(opts: RotateOptions): Promise<void> {
  const read = await readState(opts.stateDir);
  if (!read.ok) throw new Error(`no running mesh in ${opts.stateDir}: ${read.errors.join('; ')}`);
  const state = read.value;
  const ca = {
    dir: path.join(state.stateDir, 'ca'),
    clusters: state.clusters.map((c) => c.name),
    trustDomain: state.trustDomain,
    ...(opts.keyAlgorithm ? { keyAlgorithm: opts.keyAlgorithm } : {}),
  };
  const components = componentsOf(state);
  const w = { timeoutMs: opts.timeoutMs ?? 60_000, pollMs: opts.pollMs ?? 200, out: opts.out };
  const phases: readonly RotationPhase[] = opts.phase === undefined || opts.phase === 'all' ? ROTATION_PHASES : [opts.phase];
  for (const phase of phases) {
    opts.out(`phase ${phase}:`);
    let report: PhaseReport;
    try {
      if (phase === 'drop') {
        // Never drop a root a live certificate still chains to. A split federation controller
        // holds no certificate (it only publishes the bundle), so it is not asked.
        const next = await rootToKeep(ca.dir);
        await waitAll(
          `every certificate chains to the new root ${short(next)}`,
          components.filter((c) => c.kind !== 'federation'),
          (_c, r) => r.chainRoot === next,
          (r) => `its certificate chains to ${short(r.chainRoot)}: run --phase reissue first`,
          { ...w, timeoutMs: 0 },
        );
      }
      report = await runRotationPhase(phase, ca);
    } catch (e: unknown) {
      throw new Error(`phase ${phase}: ${errorMessage(e)}`);
    }
    for (const line of report.lines) opts.out(`  ${line}`);
    const bundle = report.bundle;
    const bundleOk = (_c: Component, r: TrustReport): boolean => sameSet(r.roots, bundle) && (r.federationRoots === undefined || sameSet(r.federationRoots, bundle));
    const bundleWhy = (r: TrustReport): string => `holds ${r.roots.map(short).join(', ') || 'no roots'}${r.federationRoots ? ` (federation publishes ${r.federationRoots.map(short).join(', ')})` : ''}`;
    const wanted = bundle.map(short).join(' + ');
    if (phase === 'distribute' || phase === 'drop') {
      await waitAll(`every component trusts exactly ${wanted}`, components, bundleOk, bundleWhy, w);
      continue;
    }
    const newRoot = report.newRoot;
    const planes = components.filter((c) => c.kind === 'control-plane');
    await waitAll(
      `every Citadel signs under, and every 15012 serves a certificate from, the new root ${short(newRoot)}`,
      planes,
      (_c, r) => r.signingRoot === newRoot && r.chainRoot === newRoot,
      (r) => `signs under ${short(r.signingRoot)}, serves a certificate from ${short(r.chainRoot)}`,
      w,
    );
    const workloads = components.filter((c) => c.renew);
    let asked = false;
    await waitAll(
      `every gateway and sidecar certificate chains to the new root ${short(newRoot)}`,
      workloads,
      (_c, r) => r.chainRoot === newRoot,
      (r) => `its certificate chains to ${short(r.chainRoot)}`,
      w,
      async (pending) => {
        // Ask once, then again only for those still behind (a renewal failed or raced the reload).
        await Promise.all(pending.map((c) => c.renew?.()));
        if (!asked) opts.out(`  asked ${pending.length} gateways and sidecars to renew their certificates`);
        asked = true;
      },
    );
  }
  opts.out('root rotation done');
}

/** The root the drop phase will keep: the new root while a rotation is in progress, else the mesh root. */
async function rootToKeep(dir: string): Promise<string> {
  for (const f of [ROTATION_FILES.nextCert, 'root-cert.pem']) {
    try {
      return new X509Certificate(await readFile(path.join(dir, f))).fingerprint256;
    } catch {
      // Not there (no rotation in progress): the next candidate.
    }
  }
  throw new Error(`no root certificate in ${dir}`);
}
