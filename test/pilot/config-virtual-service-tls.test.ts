import test from 'ava';
import type { VirtualServiceConfig } from '../../src/pilot/config/config-types.ts';
import { parseConfigText } from '../../src/pilot/config/index.ts';

/** VirtualService `tls` rules (SNI routing of the app's own TLS) as Istio users write them, and what meshfed refuses, by path. Binds nothing. */
const vs = (spec: string, hosts = '[db]') => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: shop}
spec:
  hosts: ${hosts}
${spec}`;

function specOf(text: string): VirtualServiceConfig['spec'] | string {
  const r = parseConfigText(text, 'vs.yaml');
  if (!r.ok) return r.errors.map(String).join('\n');
  return (r.value[0] as VirtualServiceConfig).spec;
}

test('tls: sniHosts with port, sourceLabels, sourceNamespace; weighted destinations with subsets and ports', (t) => {
  const spec = specOf(
    vs(
      `  tls:
  - match:
    - {sniHosts: [db.example.com], port: 443, sourceLabels: {app: client}, sourceNamespace: shop}
    - sniHosts: [db.example.com]
      gateways: [mesh]
    route:
    - {destination: {host: db, subset: v1, port: {number: 8443}}, weight: 70}
    - {destination: {host: other.prod.svc.cluster.local}, weight: 30}
  - match: [{sniHosts: [db]}]
    route:
    - destination: {host: db}`,
      '[db, db.example.com]',
    ),
  );
  if (typeof spec === 'string') return t.fail(spec);
  t.deepEqual(spec.http, []);
  t.deepEqual(spec.tcp, []);
  t.deepEqual(JSON.parse(JSON.stringify(spec.tls)), [
    {
      match: [{ sniHosts: ['db.example.com'], port: 443, sourceLabels: { app: 'client' }, sourceNamespace: 'shop' }, { sniHosts: ['db.example.com'] }],
      route: [
        { destination: { host: 'db.shop.svc.cluster.local', subset: 'v1', port: 8443 }, weight: 70 },
        { destination: { host: 'other.prod.svc.cluster.local', subset: '' }, weight: 30 },
      ],
    },
    { match: [{ sniHosts: ['db'] }], route: [{ destination: { host: 'db.shop.svc.cluster.local', subset: '' }, weight: 100 }] },
  ]);
});

/** Istio's validateSniHost: each SNI host is a subset of a VirtualService host; meshfed also compares qualified names. */
const sniFits: [title: string, hosts: string, sni: string][] = [
  ['the short host verbatim', '[db]', 'db'],
  ['the short host qualified in the namespace', '[db]', 'db.shop.svc.cluster.local'],
  ['the qualified host, written short', '[db.shop.svc.cluster.local]', 'db'],
  ['an external host verbatim', '[api.example.com]', 'api.example.com'],
];
for (const [title, hosts, sni] of sniFits) {
  test(`tls accepts an SNI host that is ${title}`, (t) => {
    const spec = specOf(vs(`  tls:\n  - match: [{sniHosts: ['${sni}']}]\n    route: [{destination: {host: db}}]`, hosts));
    if (typeof spec === 'string') return t.fail(spec);
    t.deepEqual(spec.tls[0]?.match[0]?.sniHosts, [sni]);
  });
}

const refused: [title: string, spec: string, text: string, hosts?: string][] = [
  ['a match without sniHosts', `  tls:\n  - match: [{port: 443}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts:'],
  ['empty sniHosts', `  tls:\n  - match: [{sniHosts: []}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts: at least one SNI host is required'],
  ['a rule without match', `  tls:\n  - route: [{destination: {host: db}}]`, 'spec.tls[0].match:'],
  ['a rule with no match blocks', `  tls:\n  - match: []\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match: at least one match is required'],
  ['a rule without destinations', `  tls:\n  - match: [{sniHosts: [db]}]\n    route: []`, 'spec.tls[0].route: at least one destination is required'],
  ['an SNI host of another service', `  tls:\n  - match: [{sniHosts: [db, web.example.com]}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts[1]: the SNI host "web.example.com" is not a match for any of the VirtualService hosts'],
  ['the short host qualified in another namespace', `  tls:\n  - match: [{sniHosts: [db.prod.svc.cluster.local]}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts[0]: the SNI host "db.prod.svc.cluster.local" is not a match'],
  ['a wildcard SNI host over a plain host (Istio: not a subset)', `  tls:\n  - match: [{sniHosts: ['*.example.com']}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts[0]: the SNI host "*.example.com" is not a match', '[example.com]'],
  ['a malformed SNI host', `  tls:\n  - match: [{sniHosts: ['db*x']}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts[0]: must be a host name or a wildcard *.suffix'],
  ['an upper-case SNI host', `  tls:\n  - match: [{sniHosts: [DB]}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sniHosts[0]: must be a host name'],
  ['destinationSubnets', `  tls:\n  - match: [{sniHosts: [db], destinationSubnets: [10.0.0.0/8]}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].destinationSubnets: destinationSubnets are not supported'],
  ['gateway-bound matches', `  tls:\n  - match: [{sniHosts: [db], gateways: [istio-system/ingress]}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].gateways: only "mesh" is supported'],
  ['sourceSubnet (not a TLS match field)', `  tls:\n  - match: [{sniHosts: [db], sourceSubnet: 10.0.0.0/8}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].sourceSubnet: unknown field'],
  ['an unknown rule field', `  tls:\n  - match: [{sniHosts: [db]}]\n    route: [{destination: {host: db}}]\n    timeout: 5s`, 'spec.tls[0].timeout: unknown field'],
  ['per-destination headers (http only)', `  tls:\n  - match: [{sniHosts: [db]}]\n    route: [{destination: {host: db}, headers: {request: {set: {a: b}}}}]`, 'spec.tls[0].route[0].headers: unknown field'],
  ['weights not summing to 100', `  tls:\n  - match: [{sniHosts: [db]}]\n    route:\n    - {destination: {host: db, subset: a}, weight: 70}\n    - {destination: {host: db, subset: b}, weight: 20}`, 'spec.tls[0].route: weights must sum to 100 (they sum to 90)'],
  ['a missing weight', `  tls:\n  - match: [{sniHosts: [db]}]\n    route:\n    - {destination: {host: db, subset: a}}\n    - {destination: {host: db, subset: b}, weight: 20}`, 'spec.tls[0].route[0].weight: required when a route has several destinations'],
  ['a port out of range', `  tls:\n  - match: [{sniHosts: [db], port: 70000}]\n    route: [{destination: {host: db}}]`, 'spec.tls[0].match[0].port: must be a port 1..65535'],
];

for (const [title, spec, text, hosts] of refused) {
  test(`tls refuses: ${title}`, (t) => {
    const r = parseConfigText(vs(spec, hosts), 'vs.yaml');
    if (r.ok) return t.fail('accepted');
    const messages = r.errors.map(String);
    t.true(messages.some((m) => m.includes(text)), messages.join('\n'));
  });
}
