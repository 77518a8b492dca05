import test from 'ava';
import { generate, generationKey } from '../../src/pilot/generators/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { validateCluster, validateListener, validateRouteConfiguration } from '../../src/xds/index.ts';
import { parseNode } from '../../src/xds/node.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { decoded } from '../xds/support/decode.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * LDS for a capture proxy (node metadata INTERCEPTION_MODE: REDIRECT) as Istio shapes it:
 * virtualOutbound on 0.0.0.0:15001 with use_original_dst, per-port tcp listeners with
 * bind_to_port false; a proxy without capture keeps its own-address listeners. Every listener
 * goes through the proto codec and the sidecar's validator. Binds nothing.
 */
function snapshot() {
  return new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('db-1', 'db', 9000, { protocol: 'tcp' })
    .workload('vault-1', 'vault', 8200, { protocol: 'tls' })
    .build();
}

function listeners(proxy: ProxyNode, snap = snapshot()) {
  return generate(proxy, TYPE_URL.listener, snap).map((r) => {
    const v = validateListener(decoded(r.resource));
    if (!v.ok) throw new Error(`${r.name}: ${v.errors.join('; ')}`);
    return v.value;
  });
}

const capture = proxyNode('sidecar', { interceptionMode: 'REDIRECT' });

test('capture proxy: virtualOutbound on 0.0.0.0:15001 reads original destinations', (t) => {
  const out = listeners(capture).find((l) => l.name === 'virtualOutbound');
  t.deepEqual(out?.address, { host: '0.0.0.0', port: 15001 });
  t.true(out?.useOriginalDst);
  t.is(out?.bindToPort, undefined);
});

test('capture proxy: tcp and tls ports get 0.0.0.0_<port> listeners that bind nothing', (t) => {
  const tcp = listeners(capture).filter((l) => l.name.startsWith('0.0.0.0_'));
  t.deepEqual(tcp.map((l) => [l.name, l.address?.host, l.address?.port, l.bindToPort]), [
    ['0.0.0.0_8200', '0.0.0.0', 8200, false],
    ['0.0.0.0_9000', '0.0.0.0', 9000, false],
  ]);
  t.true(tcp.find((l) => l.name === '0.0.0.0_8200')?.tlsInspector, 'tls ports still route by SNI');
});

test('capture proxy: virtualInbound stays on the pod address (REDIRECT sends inbound there)', (t) => {
  const inbound = listeners(capture).find((l) => l.name === 'virtualInbound');
  t.deepEqual(inbound?.address, { host: '127.0.1.1', port: 15006 });
  t.is(inbound?.useOriginalDst, undefined);
});

test('a proxy without capture is unchanged: own address, bound tcp listeners, no original destination', (t) => {
  const all = listeners(proxyNode('sidecar'));
  const out = all.find((l) => l.name === 'virtualOutbound');
  t.deepEqual(out?.address, { host: '127.0.1.1', port: 15001 });
  t.is(out?.useOriginalDst, undefined);
  for (const l of all) t.is(l.bindToPort, undefined, l.name);
  t.deepEqual(all.find((l) => l.name === '0.0.0.0_9000')?.address, { host: '127.0.1.1', port: 9000 });
});

const nodeOf = (mode: string | undefined, id = 'sidecar~198.19.137.10~client.default~default.svc.cluster.local') => ({
  id,
  metadata: { fields: { CLUSTER_ID: { string_value: 'east' }, ...(mode !== undefined ? { INTERCEPTION_MODE: { string_value: mode } } : {}) } },
});

const modes: { mode: string | undefined; id?: string; want: 'REDIRECT' | undefined | RegExp }[] = [
  { mode: 'REDIRECT', want: 'REDIRECT' },
  { mode: 'NONE', want: undefined },
  { mode: undefined, want: undefined },
  { mode: 'TPROXY', want: /^node\.metadata\.INTERCEPTION_MODE: "TPROXY" is not supported \(REDIRECT or NONE\)$/ },
  { mode: 'REDIRECT', id: 'router~198.19.137.2~gw.istio-system~istio-system.svc.cluster.local', want: /REDIRECT is for sidecars only/ },
];

for (const m of modes) {
  test(`node metadata INTERCEPTION_MODE ${m.mode ?? '(absent)'}${m.id ? ' on a router' : ''}`, (t) => {
    const r = parseNode(nodeOf(m.mode, m.id));
    if (m.want instanceof RegExp) {
      if (r.ok) return t.fail('accepted');
      return t.regex(r.errors.join('; '), m.want);
    }
    if (!r.ok) return t.fail(r.errors.join('; '));
    t.is(r.value.interceptionMode, m.want);
  });
}

/** A snapshot whose namespace `default` has a Sidecar with this outbound traffic policy. */
function withPolicy(mode: 'REGISTRY_ONLY' | 'ALLOW_ANY') {
  return new SnapshotBuilder()
    .workload('productpage-v1', 'productpage', 9080)
    .workload('db-1', 'db', 9000, { protocol: 'tcp' })
    .workload('vault-1', 'vault', 8200, { protocol: 'tls' })
    .yaml(`apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: default}\nspec:\n  outboundTrafficPolicy: {mode: ${mode}}\n`)
    .build();
}

function clusters(proxy: ProxyNode, snap = snapshot()) {
  return generate(proxy, TYPE_URL.cluster, snap).map((r) => {
    const v = validateCluster(decoded(r.resource));
    if (!v.ok) throw new Error(`${r.name}: ${v.errors.join('; ')}`);
    return v.value;
  });
}

function virtualHostNames(proxy: ProxyNode, snap = snapshot()): string[] {
  return generate(proxy, TYPE_URL.route, snap).flatMap((r) => {
    const v = validateRouteConfiguration(decoded(r.resource));
    if (!v.ok) throw new Error(`${r.name}: ${v.errors.join('; ')}`);
    return v.value.virtualHosts.map((h) => h.name);
  });
}

/** virtualOutbound's chains as [name, kind, destination port, tcp cluster / stat prefix]. */
function outboundChains(proxy: ProxyNode, snap = snapshot()) {
  const out = listeners(proxy, snap).find((l) => l.name === 'virtualOutbound');
  return (out?.filterChains ?? []).map((c) => [c.name, c.kind, c.destinationPort ?? null, c.kind === 'tcp' ? `${c.clusters[0]?.name}/${c.statPrefix}` : null]);
}

test('capture proxy: PassthroughCluster (ORIGINAL_DST, CLUSTER_PROVIDED) and BlackHoleCluster (STATIC, no endpoints)', (t) => {
  const all = clusters(capture);
  t.deepEqual(all.find((c) => c.name === 'PassthroughCluster'), { name: 'PassthroughCluster', type: 'ORIGINAL_DST', edsServiceName: 'PassthroughCluster', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 10_000 });
  const hole = all.find((c) => c.name === 'BlackHoleCluster');
  t.is(hole?.type, 'STATIC');
  t.deepEqual(hole?.staticEndpoints, []);
  const plain = clusters(proxyNode('sidecar')).map((c) => c.name);
  t.false(plain.includes('PassthroughCluster') || plain.includes('BlackHoleCluster'), 'a proxy without capture has no original destination to pass through to');
});

const policyRows: { title: string; snap: () => ReturnType<typeof snapshot>; cluster: string; lastVirtualHost: string }[] = [
  { title: 'no Sidecar: the mesh default ALLOW_ANY', snap: snapshot, cluster: 'PassthroughCluster', lastVirtualHost: 'allow_any' },
  { title: 'a Sidecar with ALLOW_ANY', snap: () => withPolicy('ALLOW_ANY'), cluster: 'PassthroughCluster', lastVirtualHost: 'allow_any' },
  { title: 'a Sidecar with REGISTRY_ONLY', snap: () => withPolicy('REGISTRY_ONLY'), cluster: 'BlackHoleCluster', lastVirtualHost: 'block_all' },
];

for (const row of policyRows) {
  test(`capture proxy, ${row.title}: virtualOutbound's default chain and the catch-all virtual host`, (t) => {
    const snap = row.snap();
    t.deepEqual(outboundChains(capture, snap), [
      ['virtualOutbound_9080', 'http', 9080, null],
      ['virtualOutbound_15001', 'http', 15001, null],
      ['PassthroughFilterChain', 'tcp', null, `${row.cluster}/${row.cluster}`],
    ]);
    t.is(virtualHostNames(capture, snap).at(-1), row.lastVirtualHost);
  });
}

test('a proxy without capture: one HTTP chain; ALLOW_ANY adds no catch-all (unknown hosts never reach it), REGISTRY_ONLY adds block_all', (t) => {
  const plain = proxyNode('sidecar');
  t.deepEqual(outboundChains(plain), [['virtualOutbound', 'http', null, null]]);
  t.false(virtualHostNames(plain).includes('allow_any'));
  t.false(virtualHostNames(plain, withPolicy('ALLOW_ANY')).includes('allow_any'));
  t.is(virtualHostNames(plain, withPolicy('REGISTRY_ONLY')).at(-1), 'block_all');
});

test('allow_any routes every path to PassthroughCluster', (t) => {
  const rc = generate(capture, TYPE_URL.route, snapshot())[0];
  if (!rc) return t.fail('no route configuration');
  const v = validateRouteConfiguration(decoded(rc.resource));
  if (!v.ok) return t.fail(v.errors.join('; '));
  const vh = v.value.virtualHosts.find((h) => h.name === 'allow_any');
  t.deepEqual(vh?.domains, ['*']);
  t.deepEqual(vh?.routes.map((r) => r.clusters.map((c) => c.name)), [['PassthroughCluster']]);
});

test('capture and non-capture proxies of one workload never share CDS or RDS', (t) => {
  const snap = snapshot();
  for (const type of [TYPE_URL.cluster, TYPE_URL.route, TYPE_URL.listener]) {
    t.not(generationKey(capture, type, snap), generationKey(proxyNode('sidecar'), type, snap), type);
  }
});
