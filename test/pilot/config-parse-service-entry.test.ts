import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { ConfigObject, ServiceEntryConfig } from '../../src/pilot/config/index.ts';

/** ServiceEntry and `exportTo` parsing: valid shapes in Istio's sample style, refusals with their paths. */

const SE = (spec: string, meta = 'name: httpbin, namespace: egress'): string =>
  `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {${meta}}\nspec:\n${spec}`;

function parse(text: string): { objects: ConfigObject[]; errors: { code: string; text: string }[] } {
  const r = parseConfigText(text, 'east/se.yaml');
  return r.ok ? { objects: r.value, errors: [] } : { objects: [], errors: r.errors.map((e) => ({ code: e.code, text: String(e) })) };
}

const STATIC_HTTPBIN = `  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: STATIC
  endpoints:
  - address: 127.127.200.1
  - address: 127.127.200.2
    ports: {http: 8080}
    labels: {version: v2}
    weight: 3`;

test('an external host with STATIC endpoints: hosts as written, MESH_EXTERNAL, ports and weights filled in', (t) => {
  const { objects, errors } = parse(SE(STATIC_HTTPBIN));
  t.deepEqual(errors, []);
  const se = objects[0] as ServiceEntryConfig;
  t.is(se.kind, 'ServiceEntry');
  t.deepEqual(se.spec, {
    hosts: ['httpbin.org'],
    ports: [{ number: 80, protocol: 'http', name: 'http' }],
    location: 'MESH_EXTERNAL',
    resolution: 'STATIC',
    endpoints: [
      { address: '127.127.200.1', ports: {}, labels: {}, weight: 1 },
      { address: '127.127.200.2', ports: { http: 8080 }, labels: { version: 'v2' }, weight: 3 },
    ],
    exportTo: ['*'],
  });
});

const valid: { title: string; text: string; check: (se: ServiceEntryConfig) => unknown; expected: unknown }[] = [
  {
    title: 'every networking apiVersion reads ServiceEntry',
    text: ['v1', 'v1beta1', 'v1alpha3'].map((v) => SE(STATIC_HTTPBIN, `name: se-${v}`).replace('networking.istio.io/v1\n', `networking.istio.io/${v}\n`)).join('\n---\n'),
    check: (se) => se.apiVersion,
    expected: 'networking.istio.io/v1',
  },
  {
    title: 'exportTo "." becomes the namespace; names are sorted and deduplicated',
    text: SE(`${STATIC_HTTPBIN}\n  exportTo: [other, ".", other]`),
    check: (se) => se.spec.exportTo,
    expected: ['egress', 'other'],
  },
  {
    title: 'exportTo "*" absorbs namespace names',
    text: SE(`${STATIC_HTTPBIN}\n  exportTo: [other, "*"]`),
    check: (se) => se.spec.exportTo,
    expected: ['*'],
  },
  {
    title: 'exportTo "~" exports to no namespace',
    text: SE(`${STATIC_HTTPBIN}\n  exportTo: ["~"]`),
    check: (se) => se.spec.exportTo,
    expected: [],
  },
  {
    title: 'MESH_INTERNAL with a workloadSelector, GRPC port and targetPort',
    text: SE(`  hosts: [legacy.internal]
  location: MESH_INTERNAL
  ports:
  - {number: 9000, name: grpc, protocol: GRPC, targetPort: 9090}
  resolution: STATIC
  workloadSelector: {labels: {app: legacy}}`),
    check: (se) => [se.spec.location, se.spec.ports, se.spec.workloadSelector, se.spec.endpoints],
    expected: ['MESH_INTERNAL', [{ number: 9000, protocol: 'grpc', name: 'grpc', targetPort: 9090 }], { labels: { app: 'legacy' } }, []],
  },
  {
    title: 'HTTP2 and GRPC ports on MESH_EXTERNAL endpoints (spoken to in HTTP/2)',
    text: SE(`  hosts: [api.partner.example]
  location: MESH_EXTERNAL
  ports:
  - {number: 8080, name: h2c, protocol: HTTP2}
  - {number: 50051, name: grpc, protocol: GRPC}
  resolution: STATIC
  endpoints: [{address: 127.0.0.9}]`),
    check: (se) => [se.spec.location, se.spec.ports.map((p) => [p.number, p.protocol])],
    expected: ['MESH_EXTERNAL', [[8080, 'http2'], [50051, 'grpc']]],
  },
  {
    title: 'TCP, TLS, HTTPS, MONGO, REDIS, MYSQL and GRPC-WEB ports, in the model as Istio proxies them',
    text: SE(`  hosts: [db.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 5432, name: tcp-pg, protocol: TCP}
  - {number: 9443, name: tls, protocol: TLS}
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 27017, name: mongo, protocol: MONGO}
  - {number: 6379, name: redis, protocol: REDIS}
  - {number: 3306, name: mysql, protocol: MYSQL}
  - {number: 8080, name: web, protocol: GRPC-WEB}
  resolution: STATIC
  endpoints: [{address: 127.127.200.1}]`),
    check: (se) => se.spec.ports.map((p) => `${p.name}:${p.protocol}`),
    expected: ['tcp-pg:tcp', 'tls:tls', 'https:tls', 'mongo:tcp', 'redis:tcp', 'mysql:tcp', 'web:grpc-web'],
  },
  {
    title: 'empty addresses and subjectAltNames are accepted',
    text: SE(`${STATIC_HTTPBIN}\n  addresses: []\n  subjectAltNames: []`),
    check: (se) => se.spec.hosts,
    expected: ['httpbin.org'],
  },
];

for (const c of valid) {
  test(`accepts: ${c.title}`, (t) => {
    const { objects, errors } = parse(c.text);
    t.deepEqual(errors, []);
    t.deepEqual(c.check(objects[0] as ServiceEntryConfig), c.expected);
  });
}

const P = 'east/se.yaml: ServiceEntry egress/httpbin: ';
const refused: { title: string; text: string; expected: { code: string; text: string }[] }[] = [
  {
    title: 'addresses (no VIP capture yet)',
    text: SE(`${STATIC_HTTPBIN}\n  addresses: [240.0.0.1]`),
    expected: [{ code: 'CONFIG_UNSUPPORTED', text: `${P}spec.addresses: addresses (VIP capture) are not supported yet` }],
  },
  {
    title: 'an unknown protocol',
    text: SE(STATIC_HTTPBIN.replace('protocol: HTTP', 'protocol: QUIC')),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.ports[0].protocol: must be one of HTTP, HTTP2, GRPC, GRPC-WEB, TCP, TLS, HTTPS, MONGO, REDIS, MYSQL` }],
  },
  {
    title: 'resolution NONE, the default',
    text: SE(STATIC_HTTPBIN.replace('  resolution: STATIC\n', '')),
    expected: [
      {
        code: 'CONFIG_UNSUPPORTED',
        text: `${P}spec.resolution: resolution NONE (the default: forward to the original destination) is not supported yet: set STATIC, DNS or DNS_ROUND_ROBIN`,
      },
    ],
  },
  {
    title: 'subjectAltNames',
    text: SE(`${STATIC_HTTPBIN}\n  subjectAltNames: [spiffe://cluster.local/ns/egress/sa/httpbin]`),
    expected: [{ code: 'CONFIG_UNSUPPORTED', text: `${P}spec.subjectAltNames: subjectAltNames are not supported yet` }],
  },
  {
    title: 'endpoint locality, network and serviceAccount',
    text: SE(`${STATIC_HTTPBIN}\n  - {address: 127.127.200.3, locality: us/east, network: n1, serviceAccount: sa}`),
    expected: [
      { code: 'CONFIG_UNSUPPORTED', text: `${P}spec.endpoints[2].locality: endpoint locality is not supported yet` },
      { code: 'CONFIG_UNSUPPORTED', text: `${P}spec.endpoints[2].network: endpoint network is not supported yet` },
      { code: 'CONFIG_UNSUPPORTED', text: `${P}spec.endpoints[2].serviceAccount: endpoint serviceAccount is not supported yet` },
    ],
  },
  {
    title: 'a STATIC endpoint that is not an IP address',
    text: SE(STATIC_HTTPBIN.replace('address: 127.127.200.1', 'address: httpbin.org')),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.endpoints[0].address: must be an IP address with resolution STATIC` }],
  },
  {
    title: 'an endpoint port naming no service port',
    text: SE(STATIC_HTTPBIN.replace('{http: 8080}', '{web: 8080}')),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.endpoints[1].ports.web: no service port is named web` }],
  },
  {
    title: 'STATIC without endpoints',
    text: SE(`  hosts: [httpbin.org]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC`),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.endpoints: resolution STATIC needs endpoints or a workloadSelector` }],
  },
  {
    title: 'a workloadSelector on MESH_EXTERNAL',
    text: SE(`  hosts: [httpbin.org]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  workloadSelector: {labels: {app: x}}`),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.workloadSelector: needs location MESH_INTERNAL` }],
  },
  {
    title: 'duplicate port numbers and names',
    text: SE(`  hosts: [httpbin.org]\n  ports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: http, protocol: HTTP}]\n  resolution: STATIC\n  endpoints: [{address: 127.127.200.1}]`),
    expected: [
      { code: 'CONFIG_INVALID', text: `${P}spec.ports[1].name: duplicate port name http` },
      { code: 'CONFIG_INVALID', text: `${P}spec.ports[1].number: duplicate port 80` },
    ],
  },
  {
    title: 'a wildcard host',
    text: SE(STATIC_HTTPBIN.replace('[httpbin.org]', '["*.httpbin.org"]')),
    expected: [
      { code: 'CONFIG_UNSUPPORTED', text: `${P}spec.hosts[0]: wildcard hosts are not supported yet` },
      { code: 'CONFIG_INVALID', text: `${P}spec.hosts[0]: must be a host name (lower-case letters, digits, -, .)` },
    ],
  },
  {
    title: 'a bad exportTo entry',
    text: SE(`${STATIC_HTTPBIN}\n  exportTo: [Not_A_Namespace]`),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.exportTo[0]: must be ".", "*", "~" or a namespace name` }],
  },
  {
    title: 'an unknown field',
    text: SE(`${STATIC_HTTPBIN}\n  colour: blue`),
    expected: [{ code: 'CONFIG_INVALID', text: `${P}spec.colour: unknown field` }],
  },
];

for (const c of refused) {
  test(`refuses: ${c.title}`, (t) => {
    t.deepEqual(parse(c.text).errors, c.expected);
  });
}

test('VirtualService and DestinationRule accept exportTo, normalized in their own namespace', (t) => {
  const { objects, errors } = parse(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: shop}
spec:
  hosts: [reviews]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: shop}
spec:
  host: reviews
  exportTo: [".", front]
`);
  t.deepEqual(errors, []);
  t.deepEqual(
    objects.map((o) => (o.kind === 'VirtualService' || o.kind === 'DestinationRule' ? o.spec.exportTo : [])),
    [['shop'], ['front', 'shop']],
  );
});
