/** The federation trust metrics follow the controller's status at each scrape. */
import test from 'ava';
import { Registry } from '../../src/common/prom.ts';
import { type FederationHandle, registerFederationTrustMetrics } from '../../src/federation/index.ts';

type Status = ReturnType<FederationHandle['status']>;

const status = (untrusted: string[], roots: number): Status => ({
  imports: {},
  untrusted,
  untrustedReasons: Object.fromEntries(untrusted.map((p) => [p, `trust bundle of cluster ${p} shares no root with the local bundle`])),
  exports: [],
  stalenessSeconds: {},
  rootFingerprints: Array.from({ length: roots }, (_, i) => `FP${i}`),
});

const ROWS: { name: string; status: Status | undefined; lines: string[]; absent: string[] }[] = [
  { name: 'before the controller starts: nothing published, nobody refused', status: undefined, lines: ['meshfed_federation_trust_bundle_roots 0'], absent: ['meshfed_federation_peer_untrusted{'] },
  { name: 'one root, every peer trusted', status: status([], 1), lines: ['meshfed_federation_trust_bundle_roots 1'], absent: ['meshfed_federation_peer_untrusted{'] },
  {
    name: 'mid-rotation, a disjoint peer refused',
    status: status(['south'], 2),
    lines: ['meshfed_federation_trust_bundle_roots 2', 'meshfed_federation_peer_untrusted{peer="south"} 1'],
    absent: [],
  },
];

for (const row of ROWS) {
  test(`trust metrics: ${row.name}`, async (t) => {
    const registry = new Registry();
    registerFederationTrustMetrics(registry, () => (row.status ? { status: () => row.status as Status } : undefined));
    const text = await registry.metrics();
    for (const line of row.lines) t.true(text.split('\n').includes(line), `${line}\n${text}`);
    for (const bad of row.absent) t.false(text.includes(bad), `${bad}\n${text}`);
  });
}

test('trust metrics: a peer trusted again leaves the gauge', async (t) => {
  const registry = new Registry();
  let current = status(['east'], 1);
  registerFederationTrustMetrics(registry, () => ({ status: () => current }));
  t.true((await registry.metrics()).includes('meshfed_federation_peer_untrusted{peer="east"} 1'));
  current = status([], 1);
  t.false((await registry.metrics()).includes('peer="east"'));
});
