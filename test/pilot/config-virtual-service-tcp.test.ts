import test from 'ava';
import type { VirtualServiceConfig } from '../../src/pilot/config/config-types.ts';
import { parseConfigText } from '../../src/pilot/config/index.ts';

/** VirtualService `tcp` rules as Istio users write them, and what meshfed refuses, by path. Binds nothing. */
const vs = (spec: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: shop}
spec:
  hosts: [db]
${spec}`;

test('tcp: match on port, sourceLabels, sourceNamespace; weighted destinations with subsets and ports', (t) => {
  const r = parseConfigText(
    vs(`  tcp:
  - match:
    - {port: 9000, sourceLabels: {app: client}, sourceNamespace: shop}
    route:
    - {destination: {host: db, subset: v1, port: {number: 9000}}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
  - route:
    - destination: {host: db}`),
    'vs.yaml',
  );
  if (!r.ok) return t.fail(r.errors.map(String).join('\n'));
  const spec = (r.value[0] as VirtualServiceConfig).spec;
  t.deepEqual(spec.http, []);
  t.deepEqual(JSON.parse(JSON.stringify(spec.tcp)), [
    {
      match: [{ port: 9000, sourceLabels: { app: 'client' }, sourceNamespace: 'shop' }],
      route: [
        { destination: { host: 'db.shop.svc.cluster.local', subset: 'v1', port: 9000 }, weight: 80 },
        { destination: { host: 'db.shop.svc.cluster.local', subset: 'v2' }, weight: 20 },
      ],
    },
    { match: [], route: [{ destination: { host: 'db.shop.svc.cluster.local', subset: '' }, weight: 100 }] },
  ]);
});

const refused: [title: string, spec: string, text: string][] = [
  ['weights not summing to 100', `  tcp:\n  - route:\n    - {destination: {host: db, subset: a}, weight: 70}\n    - {destination: {host: db, subset: b}, weight: 20}`, 'spec.tcp[0].route: weights must sum to 100 (they sum to 90)'],
  ['a missing weight', `  tcp:\n  - route:\n    - {destination: {host: db, subset: a}}\n    - {destination: {host: db, subset: b}, weight: 20}`, 'spec.tcp[0].route[0].weight: required when a route has several destinations'],
  ['destinationSubnets', `  tcp:\n  - match: [{destinationSubnets: [10.0.0.0/8]}]\n    route: [{destination: {host: db}}]`, 'spec.tcp[0].match[0].destinationSubnets: destinationSubnets are not supported'],
  ['sourceSubnet', `  tcp:\n  - match: [{sourceSubnet: 10.0.0.0/8}]\n    route: [{destination: {host: db}}]`, 'spec.tcp[0].match[0].sourceSubnet: sourceSubnet is not supported yet'],
  ['an unknown match field', `  tcp:\n  - match: [{sniHosts: [db]}]\n    route: [{destination: {host: db}}]`, 'spec.tcp[0].match[0].sniHosts: unknown field'],
  ['neither http, tcp nor tls', `  exportTo: ['.']`, 'spec.http: at least one http, tcp or tls route is required'],
];

for (const [title, spec, text] of refused) {
  test(`tcp refuses: ${title}`, (t) => {
    const r = parseConfigText(vs(spec), 'vs.yaml');
    if (r.ok) return t.fail('accepted');
    const messages = r.errors.map(String);
    t.true(messages.some((m) => m.includes(text)), messages.join('\n'));
  });
}
