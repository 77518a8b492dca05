import anyTest, { type TestFn } from 'ava';
import { applyYaml, deleteYaml, eventually, type FixtureMeshContext, request, useFixtureMesh } from './support/mesh.ts';

/**
 * An Istio Sidecar applied with `meshfed apply` to the running two-cluster fixture mesh: east's
 * namespace `default` imports only reviews (plus istio-system) with REGISTRY_ONLY, so its client
 * keeps reaching reviews while ratings (imported from west) and unknown hosts get Istio's
 * `block_all` answer, 502; the client sidecar's /config_dump holds only the imported clusters.
 * Deleting the Sidecar with `meshfed delete` brings ratings back. Addresses: 127.131.0.0/16.
 */
const test = anyTest as TestFn<FixtureMeshContext>;
const FLAGS = 'x-meshfed-response-flags';
const REVIEWS = 'reviews.default.svc.cluster.local';
const RATINGS = 'ratings.default.svc.cluster.local';

useFixtureMesh(test, { block: 131, network: 'loopback' });

const SIDECAR = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: [./${REVIEWS}, istio-system/*]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;

async function clusterNames(t: { context: FixtureMeshContext }): Promise<string[]> {
  const client = t.context.state.clusters.find((c) => c.name === 'east')?.workloads.find((w) => w.name === 'client');
  if (!client?.sidecar) throw new Error('no east client sidecar in state.json');
  const dump = (await (await fetch(`${client.sidecar.admin}/config_dump`)).json()) as { clusters: { name: string }[] };
  return dump.clusters.map((c) => c.name).sort();
}

test.serial('a namespace Sidecar with REGISTRY_ONLY: imported hosts still work, others get 502 from block_all, config_dump shrinks; deleting it restores ratings', async (t) => {
  const { state } = t.context;
  const call = (host: string) => request(state, 'east/default/client', `http://${host}:9080/`);

  const before = await eventually('ratings reachable across clusters', async () => {
    const r = await call(RATINGS);
    return r.status === 200 ? r : undefined;
  });
  t.is(before.headers[FLAGS], undefined);
  const unknownBefore = await call('nowhere.example');
  t.is(unknownBefore.status, 404, 'without a Sidecar an unknown host has no route');
  t.is(unknownBefore.headers[FLAGS], 'NR');
  const fullClusters = await clusterNames(t);
  t.true(fullClusters.includes(`outbound|9080||${RATINGS}`), fullClusters.join(' '));

  const applied = await applyYaml(t, SIDECAR);
  t.regex(applied, /sidecar\/default\/default created in cluster east/);

  const blocked = await eventually('ratings blocked by the Sidecar', async () => {
    const r = await call(RATINGS);
    return r.status === 502 ? r : undefined;
  });
  t.is(blocked.headers[FLAGS], undefined, 'a direct response carries no response flag, as in Envoy');
  const unknown = await call('nowhere.example');
  t.is(unknown.status, 502, 'REGISTRY_ONLY: an unknown host reaches block_all');
  for (let i = 0; i < 5; i++) {
    const r = await call(REVIEWS);
    t.is(r.status, 200, `reviews call ${i}: ${r.status} ${r.headers[FLAGS] ?? ''}`);
  }
  const scoped = await clusterNames(t);
  t.log(`client clusters: ${fullClusters.length} without the Sidecar, ${scoped.length} with it: ${scoped.join(' ')}`);
  t.false(scoped.some((n) => n.endsWith(`||${RATINGS}`)), 'no ratings cluster');
  t.false(scoped.some((n) => n.startsWith('outbound|') && !n.endsWith(`|${REVIEWS}`)), 'only reviews outbound clusters');
  t.true(scoped.includes(`outbound|9080||${REVIEWS}`));
  t.true(scoped.includes(`outbound|9080|v1|${REVIEWS}`), 'the VirtualService subsets of reviews stay');
  t.true(scoped.length < fullClusters.length);

  t.regex(await deleteYaml(t, SIDECAR), /sidecar\/default\/default deleted from cluster east/);
  const restored = await eventually('ratings reachable again', async () => {
    const r = await call(RATINGS);
    return r.status === 200 ? r : undefined;
  });
  t.is(restored.headers[FLAGS], undefined);
  t.is((await call('nowhere.example')).status, 404);
  t.deepEqual(await clusterNames(t), fullClusters);
});

test.serial('a Sidecar selecting the client by its labels wins over the namespace Sidecar', async (t) => {
  const { state } = t.context;
  const call = (host: string) => request(state, 'east/default/client', `http://${host}:9080/`);
  const selected = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: client-only, namespace: default}
spec:
  workloadSelector: {labels: {app: client}}
  egress:
  - hosts: [./${RATINGS}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
  await applyYaml(t, `${SIDECAR}---\n${selected}`);
  t.teardown(async () => {
    await deleteYaml(t, `${SIDECAR}---\n${selected}`, 'east', { ignoreNotFound: true });
  });
  const blocked = await eventually('reviews blocked for the selected client', async () => {
    const r = await call(REVIEWS);
    return r.status === 502 ? r : undefined;
  });
  t.is(blocked.status, 502);
  const ratings = await call(RATINGS);
  t.is(ratings.status, 200, `ratings: ${ratings.status} ${ratings.headers[FLAGS] ?? ''}`);
  const scoped = await clusterNames(t);
  t.deepEqual(
    scoped.filter((n) => n.startsWith('outbound|')),
    [`outbound|9080||${RATINGS}`],
  );
});
