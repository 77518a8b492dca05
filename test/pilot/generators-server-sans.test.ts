import test from 'ava';
import type { UriSanMatcher } from '../../src/xds/config-types.ts';
import { validateCluster } from '../../src/xds/index.ts';
import { decoded } from '../xds/support/decode.ts';
import { clustersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * The server identities Pilot puts into each outbound mesh cluster (Istio's
 * `match_subject_alt_names` from the service's service accounts): generated, round-tripped on the
 * wire and validated by the sidecar's validator, which yields the `serverSans` the sidecar checks.
 */

const sidecar = proxyNode('sidecar');
const id = (ns: string, sa: string): UriSanMatcher => ({ kind: 'exact', value: `spiffe://cluster.local/ns/${ns}/sa/${sa}` });

const ROWS: { name: string; build: (b: SnapshotBuilder) => SnapshotBuilder; cluster: string; serverSans: UriSanMatcher[] | undefined }[] = [
  { name: 'one local workload: its service account', build: (b) => b.workload('reviews-v1', 'reviews', 9080), cluster: 'outbound|9080||reviews.default.svc.cluster.local', serverSans: [id('default', 'reviews')] },
  {
    name: 'workloads running as several service accounts: each, sorted and once',
    build: (b) =>
      b
        .workload('reviews-v2', 'reviews', 9080, { serviceAccount: 'reviews-v2' })
        .workload('reviews-v1', 'reviews', 9080)
        .workload('reviews-v1b', 'reviews', 9080),
    cluster: 'outbound|9080||reviews.default.svc.cluster.local',
    serverSans: [id('default', 'reviews'), id('default', 'reviews-v2')],
  },
  {
    name: 'an imported service: the exporting cluster’s service accounts (federation carries them)',
    build: (b) => b.imported('west', '127.171.9.1', 'ratings-v1', 'ratings', 9080, {}, 'prod'),
    cluster: 'outbound|9080||ratings.prod.svc.cluster.local',
    serverSans: [id('prod', 'ratings')],
  },
  {
    name: 'local and imported endpoints together',
    build: (b) => b.workload('reviews-v1', 'reviews', 9080, { serviceAccount: 'bookinfo-reviews' }).imported('west', '127.171.9.1', 'reviews-v3', 'reviews', 9080),
    cluster: 'outbound|9080||reviews.default.svc.cluster.local',
    serverSans: [id('default', 'bookinfo-reviews'), id('default', 'reviews')],
  },
  {
    name: 'a subset cluster: the service’s accounts (Istio’s service-wide list)',
    build: (b) =>
      b
        .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' } })
        .workload('reviews-v2', 'reviews', 9080, { serviceAccount: 'reviews-v2', labels: { app: 'reviews', version: 'v2' } })
        .yaml('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr}\nspec:\n  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n'),
    cluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
    serverSans: [id('default', 'reviews'), id('default', 'reviews-v2')],
  },
  {
    name: 'a workload without a sidecar does not count (it is not dialled over mTLS)',
    build: (b) => b.workload('reviews-v1', 'reviews', 9080).workload('legacy', 'reviews', 9080, { serviceAccount: 'legacy', sidecar: false }),
    cluster: 'outbound|9080||reviews.default.svc.cluster.local',
    serverSans: [id('default', 'reviews')],
  },
];

for (const row of ROWS) {
  test(row.name, (t) => {
    const snap = row.build(new SnapshotBuilder()).build();
    const raw = clustersOf(sidecar, snap).get(row.cluster);
    if (!raw) return t.fail(`no cluster ${row.cluster}`);
    const r = validateCluster(decoded(raw));
    if (!r.ok) return t.fail(r.errors.join(' | '));
    t.truthy(r.value.tls, 'a mesh mTLS cluster');
    t.deepEqual(r.value.tls?.serverSans, row.serverSans);
  });
}

test('a pushed change of service accounts regenerates the cluster (not served from the memo)', (t) => {
  const before = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080).build('v1');
  const after = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080, { serviceAccount: 'reviews-new' }).build('v2', before);
  const name = 'outbound|9080||reviews.default.svc.cluster.local';
  t.is(after.services.get('reviews.default.svc.cluster.local'), before.services.get('reviews.default.svc.cluster.local'), 'the same service object: the memo is consulted');
  const a = validateCluster(decoded(clustersOf(sidecar, before).get(name) ?? {}));
  const b = validateCluster(decoded(clustersOf(sidecar, after).get(name) ?? {}));
  t.deepEqual(a.ok ? a.value.tls?.serverSans : 'NACK', [id('default', 'reviews')]);
  t.deepEqual(b.ok ? b.value.tls?.serverSans : 'NACK', [id('default', 'reviews-new')]);
});
