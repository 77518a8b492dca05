import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { ConfigObject } from '../../src/pilot/config/index.ts';
import { buildSnapshot, type Snapshot } from '../../src/pilot/model/index.ts';
import { type RegistryShard, workloadShard } from '../../src/pilot/registry/index.ts';
import type { WorkloadSpec } from '../../src/common/workload.ts';

/**
 * buildSnapshot reuses the previous snapshot's service, endpoint and workload maps when the
 * registry shards are the same objects and no ServiceEntry takes part; every other change
 * rebuilds them. Each row checks the rebuilt or reused snapshot equals one built from scratch.
 */

const workload = (name: string, service: string, address: string): WorkloadSpec => ({
  name,
  namespace: 'default',
  serviceAccount: service,
  cluster: 'east',
  address,
  labels: { app: service },
  service: { name: service, port: 9080, protocol: 'http' },
  sidecar: true,
});
const shard = (moved = false): RegistryShard =>
  workloadShard({
    registry: 'file',
    cluster: 'east',
    workloads: [workload('reviews-v1', 'reviews', moved ? '127.0.1.9' : '127.0.1.1'), workload('ratings-v1', 'ratings', '127.0.1.2')],
    domainSuffix: 'cluster.local',
  });
const parse = (text: string): ConfigObject[] => {
  const r = parseConfigText(text, 'test.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
};
const DR = parse('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews}\nspec:\n  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n');
const SE = parse(
  'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: api}\nspec:\n  hosts: [api.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  endpoints: [{address: 127.0.5.1}]\n',
);

const build = (shards: readonly RegistryShard[], config: readonly ConfigObject[], previous?: Snapshot): Snapshot =>
  buildSnapshot({ cluster: 'east', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', shards, config, version: 'v', ...(previous ? { previous } : {}) });
const parts = (s: Snapshot): unknown => ({ services: [...s.services], endpoints: [...s.endpoints], workloads: [...s.workloads] });

const same = shard();
const rows: { title: string; shards: readonly RegistryShard[]; config: readonly ConfigObject[]; reused: boolean }[] = [
  { title: 'a config change over the same shard objects reuses the maps', shards: [same], config: DR, reused: true },
  { title: 'a new shard object (even with equal content) rebuilds them', shards: [shard()], config: [], reused: false },
  { title: 'a moved endpoint rebuilds them', shards: [shard(true)], config: [], reused: false },
  { title: 'a ServiceEntry rebuilds them', shards: [same], config: SE, reused: false },
  { title: 'another cluster rebuilds them', shards: [same], config: [], reused: false },
];

for (const row of rows) {
  test(`buildSnapshot: ${row.title}`, (t) => {
    const first = build([same], []);
    const next =
      row.title.startsWith('another cluster')
        ? buildSnapshot({ cluster: 'west', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', shards: row.shards, config: row.config, version: 'v', previous: first })
        : build(row.shards, row.config, first);
    t.is(next.endpoints === first.endpoints && next.workloads === first.workloads && next.services === first.services, row.reused);
    const fresh = row.title.startsWith('another cluster')
      ? buildSnapshot({ cluster: 'west', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', shards: row.shards, config: row.config, version: 'v' })
      : build(row.shards, row.config);
    t.deepEqual(parts(next), parts(fresh), 'what a fresh build gives');
  });
}

test('buildSnapshot: after a ServiceEntry goes, the maps are rebuilt without it', (t) => {
  const withEntry = build([same], SE);
  const without = build([same], [], withEntry);
  t.false(without.services.has('api.example'));
  t.deepEqual(parts(without), parts(build([same], [])));
});
