/**
 * Case 21 of the security issue, shared by root-rotation.e2e (one istiod-style control plane per
 * cluster) and root-rotation-split.e2e (Pilot, Citadel, Mixer and federation as their own
 * processes): `meshfed ca rotate` across a two-cluster mesh (real processes, real Consul,
 * certificates from each cluster's Citadel) while a caller in east keeps calling ratings in west
 * through both sidecars and west's east-west gateway. Zero requests fail during the whole rotation;
 * afterwards every control plane, gateway and sidecar trusts the new root alone and every
 * certificate chains to it, and west is still imported in east (federation followed the bundles).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestFn } from 'ava';
import { meshfed } from '../../support/cli.ts';
import { eventually, type FixtureMeshContext, fetchText, request } from './mesh.ts';

const RATINGS = 'http://ratings.default.svc.cluster.local:9080/';

/** The smallest two-cluster mesh (one caller in east, ratings in west): fewer processes to start. */
export const ROTATION_TOPOLOGY = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rotation', 'mesh.yaml');

type Trust = Record<string, { roots: string[]; chainRoot?: unknown }>;

/**
 * Every component's trust as it reports it: name → root fingerprints and, for those holding a
 * certificate, the root it chains to. A split federation controller only publishes the bundle.
 */
async function trustOf(ctx: FixtureMeshContext): Promise<Trust> {
  const out: Trust = {};
  for (const c of ctx.state.clusters) {
    const cp = JSON.parse(await fetchText(`${c.controlPlane.monitoring}/debug/trustz`)) as Record<string, unknown>;
    out[`${c.name}/control-plane`] = { roots: cp['rootFingerprints'] as string[], chainRoot: cp['servingChainRoot'] };
    const split = c.controlPlane.split;
    if (split) {
      const fed = JSON.parse(await fetchText(`${split.federation}/debug/federationz`)) as { rootFingerprints: string[] };
      out[`${c.name}/federation`] = { roots: fed.rootFingerprints };
    } else {
      out[`${c.name}/citadel`] = { roots: cp['federationRootFingerprints'] as string[], chainRoot: cp['signingRoot'] };
    }
    const gw = JSON.parse(await fetchText(`${c.gateway.admin}/certs`)) as { rootFingerprints: string[]; chainRoot: unknown };
    out[`${c.name}/gateway`] = { roots: gw.rootFingerprints, chainRoot: gw.chainRoot };
    for (const w of c.workloads) {
      if (!w.sidecar) continue;
      const dump = JSON.parse(await fetchText(`${w.sidecar.admin}/config_dump`)) as { certificate: { rootFingerprints: string[]; chainRoot: unknown } };
      out[`${c.name}/${w.name}`] = { roots: dump.certificate.rootFingerprints, chainRoot: dump.certificate.chainRoot };
    }
  }
  return out;
}

/** What `trust` should be when every component holds `root` alone. */
function onlyRoot(trust: Trust, root: string): Trust {
  return Object.fromEntries(Object.entries(trust).map(([name, v]) => [name, 'chainRoot' in v ? { roots: [root], chainRoot: root } : { roots: [root] }]));
}

/** Registers the rotation test on a file whose fixture mesh runs ROTATION_TOPOLOGY. */
export function rotationUnderTraffic(test: TestFn<FixtureMeshContext>, title: string): void {
  test.serial(title, async (t) => {
    const ctx = t.context;
    const caDir = path.join(ctx.state.stateDir, 'ca');
    const oldRoot = new X509Certificate(await readFile(path.join(caDir, 'root-cert.pem'))).fingerprint256;
    await eventually('ratings imported into east', async () => ((await request(ctx.state, 'east/default/client', RATINGS)).status === 200 ? true : undefined), 45_000);
    const before = await trustOf(ctx);
    t.deepEqual(before, onlyRoot(before, oldRoot), 'before: the old root everywhere');

    // Traffic until the rotation is over: a request loop, counted, not timed.
    let done = false;
    let ok = 0;
    const failures: string[] = [];
    const load = (async () => {
      while (!done) {
        try {
          const r = await request(ctx.state, 'east/default/client', RATINGS);
          if (r.status === 200 && (JSON.parse(r.body) as { cluster?: string }).cluster === 'west') ok++;
          else failures.push(`${r.status} ${r.body.slice(0, 400)}`);
        } catch (e: unknown) {
          failures.push(e instanceof Error ? e.message : String(e));
        }
      }
    })();
    const rotate = await meshfed(['ca', 'rotate', '--state-dir', ctx.state.stateDir, '--timeout', '30'], { timeoutMs: 100_000 });
    const duringRotation = ok + failures.length;
    // A few more requests after the old root is gone.
    const after = ok;
    while (ok < after + 5 && failures.length === 0) await new Promise((r) => setImmediate(r));
    done = true;
    await load;

    t.is(rotate.code, 0, `${rotate.stdout}\n${rotate.stderr}`);
    t.regex(rotate.stdout, /phase distribute:[\s\S]*phase reissue:[\s\S]*asked \d+ gateways and sidecars to renew[\s\S]*phase drop:[\s\S]*root rotation done/);
    t.true(duringRotation > 0, 'requests ran during the rotation');
    t.deepEqual(failures, [], `zero failed requests (${ok} succeeded)`);

    const newRoot = new X509Certificate(await readFile(path.join(caDir, 'root-cert.pem'))).fingerprint256;
    t.not(newRoot, oldRoot);
    const afterTrust = await trustOf(ctx);
    t.deepEqual(afterTrust, onlyRoot(afterTrust, newRoot), 'after: the new root alone everywhere');
    for (const c of ctx.state.clusters) {
      const bundle = await readFile(path.join(caDir, c.name, 'root-cert.pem'), 'utf8');
      t.is(bundle.match(/BEGIN CERTIFICATE/g)?.length, 1, `${c.name}'s bundle holds one root`);
    }

    // Resumable: running a phase again changes nothing and succeeds.
    const again = await meshfed(['ca', 'rotate', '--state-dir', ctx.state.stateDir, '--phase', 'drop', '--timeout', '10'], { timeoutMs: 30_000 });
    t.is(again.code, 0, again.stderr);
    t.regex(again.stdout, /already the mesh root/);
  });
}
