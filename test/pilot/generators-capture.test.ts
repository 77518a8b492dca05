import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { validateListener } from '../../src/xds/index.ts';
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

function listeners(proxy: ProxyNode) {
  return generate(proxy, TYPE_URL.listener, snapshot()).map((r) => {
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
