import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { SidecarConfig, SidecarSpec } from '../../src/pilot/config/index.ts';

/** Istio `Sidecar` parsing: every field, accepted in its normalized form or refused with its path. */

const SC = (spec: string, meta = 'name: default, namespace: shop', version = 'v1'): string =>
  `apiVersion: networking.istio.io/${version}\nkind: Sidecar\nmetadata: {${meta}}\nspec:\n${spec}`;

function parse(text: string): { spec?: SidecarSpec; errors: { code: string; text: string }[] } {
  const r = parseConfigText(text, 'east/sidecar.yaml');
  if (!r.ok) return { errors: r.errors.map((e) => ({ code: e.code, text: String(e) })) };
  const sc = r.value[0] as SidecarConfig | undefined;
  return sc ? { spec: sc.spec, errors: [] } : { errors: [] };
}

const accepted: [string, string, SidecarSpec, string?][] = [
  ['the namespace default of Istio’s docs', `  egress:\n  - hosts: ["./*", "istio-system/*"]`, { egress: [{ hosts: [{ namespace: '.', dnsName: '*' }, { namespace: 'istio-system', dnsName: '*' }] }] }],
  [
    'every host form: ./short, ns/fqdn, */host, ~/*, */*, wildcard',
    `  egress:\n  - hosts: [./reviews, prod/ratings.prod.svc.cluster.local, "*/httpbin.org", "~/*", "*/*", "prod/*.example.com"]`,
    {
      egress: [
        {
          hosts: [
            { namespace: '.', dnsName: 'reviews' },
            { namespace: 'prod', dnsName: 'ratings.prod.svc.cluster.local' },
            { namespace: '*', dnsName: 'httpbin.org' },
            { namespace: '~', dnsName: '*' },
            { namespace: '*', dnsName: '*' },
            { namespace: 'prod', dnsName: '*.example.com' },
          ],
        },
      ],
    },
  ],
  ['duplicate hosts are dropped', `  egress:\n  - hosts: [./a, ./a]`, { egress: [{ hosts: [{ namespace: '.', dnsName: 'a' }] }] }],
  [
    'a port-scoped listener beside the catch-all; protocol, name and captureMode DEFAULT',
    `  egress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n    captureMode: DEFAULT\n    hosts: [./reviews]\n  - hosts: [istio-system/*]`,
    { egress: [{ port: 9080, hosts: [{ namespace: '.', dnsName: 'reviews' }] }, { hosts: [{ namespace: 'istio-system', dnsName: '*' }] }] },
  ],
  [
    'workloadSelector and REGISTRY_ONLY',
    `  workloadSelector: {labels: {app: ratings}}\n  egress:\n  - hosts: ["./*"]\n  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`,
    { workloadSelector: { labels: { app: 'ratings' } }, egress: [{ hosts: [{ namespace: '.', dnsName: '*' }] }], outboundTrafficPolicy: 'REGISTRY_ONLY' },
  ],
  ['ALLOW_ANY (applied to capture proxies: PassthroughCluster)', `  outboundTrafficPolicy: {mode: ALLOW_ANY}`, { egress: [{ hosts: [{ namespace: '*', dnsName: '*' }] }], outboundTrafficPolicy: 'ALLOW_ANY' }],
  ['no egress imports everything, as in Istio', `  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`, { egress: [{ hosts: [{ namespace: '*', dnsName: '*' }] }], outboundTrafficPolicy: 'REGISTRY_ONLY' }],
  ['an empty egress list is the same', `  egress: []`, { egress: [{ hosts: [{ namespace: '*', dnsName: '*' }] }] }],
  ['an empty ingress list is nothing to honour', `  ingress: []\n  egress:\n  - hosts: ["./*"]`, { egress: [{ hosts: [{ namespace: '.', dnsName: '*' }] }] }],
  ['outboundTrafficPolicy without mode', `  outboundTrafficPolicy: {}\n  egress:\n  - hosts: ["./*"]`, { egress: [{ hosts: [{ namespace: '.', dnsName: '*' }] }] }],
];
for (const [title, spec, expected] of accepted) {
  test(`Sidecar accepts ${title}`, (t) => {
    const r = parse(SC(spec));
    t.deepEqual(r.errors, []);
    t.deepEqual(r.spec, expected);
  });
}

for (const version of ['v1', 'v1beta1', 'v1alpha3']) {
  test(`Sidecar is read in networking.istio.io/${version}`, (t) => {
    t.deepEqual(parse(SC(`  egress:\n  - hosts: ["./*"]`, undefined, version)).errors, []);
  });
}

const rejected: [string, string, string, 'CONFIG_INVALID' | 'CONFIG_UNSUPPORTED'][] = [
  ['a host without namespace/', `  egress:\n  - hosts: [reviews]`, 'spec.egress[0].hosts[0]: must be namespace/dnsName', 'CONFIG_INVALID'],
  ['an empty dnsName', `  egress:\n  - hosts: ["prod/"]`, 'spec.egress[0].hosts[0]: must be namespace/dnsName', 'CONFIG_INVALID'],
  ['a bad namespace', `  egress:\n  - hosts: ["Prod/*"]`, 'spec.egress[0].hosts[0]: namespace "Prod" must be', 'CONFIG_INVALID'],
  ['a bad dnsName', `  egress:\n  - hosts: ["./a*b"]`, 'spec.egress[0].hosts[0]: dnsName "a*b" must be', 'CONFIG_INVALID'],
  ['a listener without hosts', `  egress:\n  - hosts: []`, 'spec.egress[0].hosts: at least one host is required', 'CONFIG_INVALID'],
  ['two catch-all listeners', `  egress:\n  - hosts: ["./*"]\n  - hosts: ["*/*"]`, 'spec.egress[1]: only one egress listener may leave out port', 'CONFIG_INVALID'],
  ['two listeners on one port', `  egress:\n  - port: {number: 80}\n    hosts: ["./*"]\n  - port: {number: 80}\n    hosts: ["*/*"]`, 'spec.egress[1].port.number: duplicate port 80', 'CONFIG_INVALID'],
  ['a port out of range', `  egress:\n  - port: {number: 0}\n    hosts: ["./*"]`, 'spec.egress[0].port.number: must be a port', 'CONFIG_INVALID'],
  ['a TCP egress port', `  egress:\n  - port: {number: 3306, protocol: TCP}\n    hosts: ["./*"]`, 'spec.egress[0].port.protocol: only HTTP, HTTP2 and GRPC', 'CONFIG_UNSUPPORTED'],
  ['an egress targetPort', `  egress:\n  - port: {number: 80, targetPort: 8080}\n    hosts: ["./*"]`, 'spec.egress[0].port.targetPort: targetPort has no meaning', 'CONFIG_UNSUPPORTED'],
  ['bind', `  egress:\n  - bind: 127.0.0.1\n    hosts: ["./*"]`, 'spec.egress[0].bind: bind is not supported', 'CONFIG_UNSUPPORTED'],
  ['captureMode NONE', `  egress:\n  - captureMode: NONE\n    hosts: ["./*"]`, 'spec.egress[0].captureMode: only captureMode DEFAULT is supported', 'CONFIG_UNSUPPORTED'],
  ['captureMode IPTABLES', `  egress:\n  - captureMode: IPTABLES\n    hosts: ["./*"]`, 'spec.egress[0].captureMode: only captureMode DEFAULT is supported', 'CONFIG_UNSUPPORTED'],
  ['an unknown captureMode', `  egress:\n  - captureMode: EBPF\n    hosts: ["./*"]`, 'spec.egress[0].captureMode: must be one of DEFAULT, IPTABLES, NONE', 'CONFIG_INVALID'],
  ['an unknown mode', `  outboundTrafficPolicy: {mode: OPEN}`, 'spec.outboundTrafficPolicy.mode: must be REGISTRY_ONLY or ALLOW_ANY', 'CONFIG_INVALID'],
  ['egressProxy', `  outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: egress.istio-system.svc.cluster.local}}`, 'spec.outboundTrafficPolicy.egressProxy: egressProxy is not supported yet', 'CONFIG_UNSUPPORTED'],
  ['ingress listeners', `  ingress:\n  - port: {number: 9080, protocol: HTTP, name: http}\n    defaultEndpoint: 127.0.0.1:8080`, 'spec.ingress: ingress listeners are not supported yet', 'CONFIG_UNSUPPORTED'],
  ['inboundConnectionPool', `  inboundConnectionPool: {http: {http1MaxPendingRequests: 1}}`, 'spec.inboundConnectionPool: inboundConnectionPool is not supported yet', 'CONFIG_UNSUPPORTED'],
  ['an empty workloadSelector', `  workloadSelector: {labels: {}}`, 'spec.workloadSelector.labels: must name at least one label', 'CONFIG_INVALID'],
  ['an unknown field', `  egress:\n  - hosts: ["./*"]\n    hostz: [x]`, 'spec.egress[0].hostz: unknown field', 'CONFIG_INVALID'],
];
for (const [title, spec, message, code] of rejected) {
  test(`Sidecar rejects ${title}`, (t) => {
    const r = parse(SC(spec));
    t.is(r.spec, undefined);
    t.true(r.errors.some((e) => e.code === code && e.text.includes(message)), JSON.stringify(r.errors));
  });
}
