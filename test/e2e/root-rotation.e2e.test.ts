/**
 * Case 21 of the security issue: `meshfed ca rotate` across a two-cluster mesh (real
 * processes, real Consul, certificates from each cluster's Citadel) while a caller in east keeps
 * calling ratings in west through both sidecars and west's east-west gateway. Zero requests fail
 * during the whole rotation; afterwards every control plane, gateway and sidecar trusts the new
 * root alone and every certificate chains to it, and west is still imported in east (federation
 * followed the bundles). Addresses: 127.175.0.0/16.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import anyTest, { type TestFn } from 'ava';
import { meshfed } from '../support/cli.ts';
import { eventually, type FixtureMeshContext, fetchText, request, useFixtureMesh } from './support/mesh.ts';

const test = anyTest as TestFn<FixtureMeshContext>;
const RATINGS = 'http://ratings.default.svc.cluster.local:9080/';

// The smallest two-cluster mesh (one caller in east, ratings in west): fewer processes to start.
const TOPOLOGY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'rotation', 'mesh.yaml');
useFixtureMesh(test, { block: 175, network: 'loopback', topology: TOPOLOGY });

/** Every component's trust as it reports it: name → root fingerprints and the root its certificate chains to. */
async function trustOf(ctx: FixtureMeshContext): Promise<Record<string, { roots: string[]; chainRoot: unknown }>> {
  const out: Record<string, { roots: string[]; chainRoot: unknown }> = {};
  for (const c of ctx.state.clusters) {
    const cp = JSON.parse(await fetchText(`${c.controlPlane.monitoring}/debug/trustz`)) as Record<string, unknown>;
    out[`${c.name}/control-plane`] = { roots: cp['rootFingerprints'] as string[], chainRoot: cp['servingChainRoot'] };
    out[`${c.name}/citadel`] = { roots: cp['federationRootFingerprints'] as string[], chainRoot: cp['signingRoot'] };
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

test.serial('meshfed ca rotate with traffic flowing east → west: zero failed requests, only the new root left', async (t) => {
  const ctx = t.context;
  const caDir = path.join(ctx.state.stateDir, 'ca');
  const oldRoot = new X509Certificate(await readFile(path.join(caDir, 'root-cert.pem'))).fingerprint256;
  await eventually('ratings imported into east', async () => ((await request(ctx.state, 'east/default/client', RATINGS)).status === 200 ? true : undefined), 45_000);
  const before = await trustOf(ctx);
  for (const [name, v] of Object.entries(before)) t.deepEqual(v, { roots: [oldRoot], chainRoot: oldRoot }, name);

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
  for (const [name, v] of Object.entries(afterTrust)) t.deepEqual(v, { roots: [newRoot], chainRoot: newRoot }, name);
  for (const c of ctx.state.clusters) {
    const bundle = await readFile(path.join(caDir, c.name, 'root-cert.pem'), 'utf8');
    t.is(bundle.match(/BEGIN CERTIFICATE/g)?.length, 1, `${c.name}'s bundle holds one root`);
  }

  // Resumable: running a phase again changes nothing and succeeds.
  const again = await meshfed(['ca', 'rotate', '--state-dir', ctx.state.stateDir, '--phase', 'drop', '--timeout', '10'], { timeoutMs: 30_000 });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /already the mesh root/);
});
