/**
 * The three phases of a root rotation on a real CA folder: each phase's effect on the files, that
 * every phase is idempotent (a second run changes nothing and says so), that phases out of order
 * are refused with a reason, and that at every step each cluster's CA still loads (what a live
 * reload reads) and initCa (what `meshfed up` runs) still accepts the folder.
 */
import { X509Certificate } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { type CaRotationOptions, initCa, loadCa, ROTATION_FILES, runRotationPhase, signWorkloadCsr } from '../../src/citadel/index.ts';
import { generateKeyAndCsr } from '../../src/citadel/certificate-client.ts';
import { tempDir, TRUST_DOMAIN } from './fixtures.ts';

const CLUSTERS = ['east', 'west'];

async function setUp(t: Parameters<typeof tempDir>[0]): Promise<CaRotationOptions> {
  const dir = await tempDir(t);
  await initCa({ dir, clusters: CLUSTERS, trustDomain: TRUST_DOMAIN });
  return { dir, clusters: CLUSTERS, trustDomain: TRUST_DOMAIN };
}

const fingerprintOf = async (file: string): Promise<string> => new X509Certificate(await readFile(file)).fingerprint256;

/** Each cluster: its bundle's fingerprints and the root its intermediate is under. */
async function snapshot(o: CaRotationOptions): Promise<Record<string, { bundle: string[]; signingRoot: string }>> {
  const out: Record<string, { bundle: string[]; signingRoot: string }> = {};
  for (const c of o.clusters) {
    const ca = await loadCa(path.join(o.dir, c));
    out[c] = { bundle: ca.roots.map((r) => r.fingerprint256), signingRoot: ca.root.fingerprint256 };
  }
  return out;
}

test('distribute, reissue, drop: bundles go old → old+new → new, intermediates follow, each phase idempotent', async (t) => {
  const o = await setUp(t);
  const oldRoot = await fingerprintOf(path.join(o.dir, 'root-cert.pem'));

  const p1 = await runRotationPhase('distribute', o);
  const newRoot = p1.newRoot;
  t.not(newRoot, oldRoot);
  t.deepEqual(p1.bundle, [oldRoot, newRoot]);
  for (const s of Object.values(await snapshot(o))) t.deepEqual(s, { bundle: [oldRoot, newRoot], signingRoot: oldRoot });
  const again1 = await runRotationPhase('distribute', o);
  t.is(again1.newRoot, newRoot, 'the new root is created once');
  t.true(again1.lines.every((l) => l.includes('already')), again1.lines.join('\n'));

  const p2 = await runRotationPhase('reissue', o);
  t.deepEqual(p2.lines, ['east: new intermediate under the new root', 'west: new intermediate under the new root']);
  for (const s of Object.values(await snapshot(o))) t.deepEqual(s, { bundle: [oldRoot, newRoot], signingRoot: newRoot });
  // Citadel signs with the new intermediate; the chain ends at the new root.
  const east = await loadCa(path.join(o.dir, 'east'));
  const { csrPem } = generateKeyAndCsr(`spiffe://${TRUST_DOMAIN}/ns/default/sa/reviews`);
  const signed = signWorkloadCsr({ ca: east, csrPem, identity: { trustDomain: TRUST_DOMAIN, namespace: 'default', serviceAccount: 'reviews' } });
  t.true(signed.ok);
  if (signed.ok) t.is(new X509Certificate(signed.value.certChainPem.at(-1) ?? '').fingerprint256, newRoot);
  await initCa({ dir: o.dir, clusters: CLUSTERS, trustDomain: TRUST_DOMAIN });
  const again2 = await runRotationPhase('reissue', o);
  t.true(again2.lines.every((l) => l.includes('already')));

  const p3 = await runRotationPhase('drop', o);
  t.is(p3.oldRoot, oldRoot);
  t.deepEqual(p3.bundle, [newRoot]);
  for (const s of Object.values(await snapshot(o))) t.deepEqual(s, { bundle: [newRoot], signingRoot: newRoot });
  t.is(await fingerprintOf(path.join(o.dir, 'root-cert.pem')), newRoot);
  t.is(await fingerprintOf(path.join(o.dir, ROTATION_FILES.previousCert)), oldRoot);
  await t.throwsAsync(access(path.join(o.dir, ROTATION_FILES.nextKey)));
  await initCa({ dir: o.dir, clusters: CLUSTERS, trustDomain: TRUST_DOMAIN });
  const again3 = await runRotationPhase('drop', o);
  t.true(again3.lines.every((l) => l.includes('already')), again3.lines.join('\n'));
});

const OUT_OF_ORDER: { name: string; before: ('distribute' | 'reissue' | 'drop')[]; phase: 'reissue' | 'drop'; error: RegExp }[] = [
  { name: 'reissue before distribute', before: [], phase: 'reissue', error: /no rotation in progress .* run the distribute phase first/ },
  { name: 'drop right after distribute', before: ['distribute'], phase: 'drop', error: /east: its intermediate is not under the new root yet: run the reissue phase first/ },
];

for (const row of OUT_OF_ORDER) {
  test(`refused: ${row.name}`, async (t) => {
    const o = await setUp(t);
    for (const p of row.before) await runRotationPhase(p, o);
    const before = await snapshot(o);
    const err = await t.throwsAsync(runRotationPhase(row.phase, o));
    t.regex(err?.message ?? '', row.error);
    t.is((err as { code?: string } | undefined)?.code, 'CA_ROTATION_BLOCKED');
    t.deepEqual(await snapshot(o), before, 'nothing changed');
  });
}

test('a drop with no rotation in progress and single-root bundles changes nothing', async (t) => {
  const o = await setUp(t);
  const before = await snapshot(o);
  const r = await runRotationPhase('drop', o);
  t.true(r.lines.every((l) => l.includes('already')));
  t.deepEqual(await snapshot(o), before);
});
