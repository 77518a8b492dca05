import test from 'ava';
import { type ClientTlsSettings, type DestinationRuleConfig, parseConfigText, type ServiceEntryConfig } from '../../src/pilot/config/index.ts';

/**
 * DestinationRule `trafficPolicy.tls` (every mode and field, at top level, per port and per
 * subset) and ServiceEntry resolution DNS / DNS_ROUND_ROBIN: accepted shapes and refusals with
 * their paths. No sockets.
 */

const DR = (policy: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cnn}
spec:
  host: edition.cnn.com
  trafficPolicy:
${policy}`;

function tlsOf(text: string): ClientTlsSettings | undefined {
  const r = parseConfigText(text, 'dr.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return (r.value[0] as DestinationRuleConfig).spec.trafficPolicy?.tls;
}

const valid: { title: string; policy: string; expected: ClientTlsSettings }[] = [
  { title: 'ISTIO_MUTUAL', policy: '    tls: {mode: ISTIO_MUTUAL}', expected: { mode: 'ISTIO_MUTUAL', subjectAltNames: [], insecureSkipVerify: false } },
  { title: 'DISABLE', policy: '    tls: {mode: DISABLE}', expected: { mode: 'DISABLE', subjectAltNames: [], insecureSkipVerify: false } },
  { title: 'mode left out is DISABLE (proto3 default)', policy: '    tls: {}', expected: { mode: 'DISABLE', subjectAltNames: [], insecureSkipVerify: false } },
  { title: 'SIMPLE alone (system roots, SNI from the host)', policy: '    tls: {mode: SIMPLE}', expected: { mode: 'SIMPLE', subjectAltNames: [], insecureSkipVerify: false } },
  {
    title: 'SIMPLE with caCertificates, sni and subjectAltNames',
    policy: '    tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem, sni: edition.cnn.com, subjectAltNames: [edition.cnn.com, "spiffe://x/y"]}',
    expected: { mode: 'SIMPLE', caCertificates: '/etc/certs/ca.pem', sni: 'edition.cnn.com', subjectAltNames: ['edition.cnn.com', 'spiffe://x/y'], insecureSkipVerify: false },
  },
  { title: 'SIMPLE insecureSkipVerify', policy: '    tls: {mode: SIMPLE, insecureSkipVerify: true}', expected: { mode: 'SIMPLE', subjectAltNames: [], insecureSkipVerify: true } },
  {
    title: 'MUTUAL with client certificate and key',
    policy: '    tls: {mode: MUTUAL, clientCertificate: /c/client.pem, privateKey: /c/key.pem, caCertificates: /c/ca.pem}',
    expected: { mode: 'MUTUAL', clientCertificate: '/c/client.pem', privateKey: '/c/key.pem', caCertificates: '/c/ca.pem', subjectAltNames: [], insecureSkipVerify: false },
  },
];

for (const row of valid) {
  test(`tls accepts: ${row.title}`, (t) => {
    t.deepEqual(tlsOf(DR(row.policy)), row.expected);
  });
}

test('tls in portLevelSettings and subsets is kept at its level', (t) => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cnn}
spec:
  host: edition.cnn.com
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE}
  subsets:
  - name: plain
    labels: {version: v1}
    trafficPolicy: {tls: {mode: DISABLE}}`;
  const r = parseConfigText(text, 'dr.yaml');
  if (!r.ok) return t.fail(r.errors.map(String).join('\n'));
  const dr = r.value[0] as DestinationRuleConfig;
  t.is(dr.spec.trafficPolicy?.tls?.mode, 'ISTIO_MUTUAL');
  t.is(dr.spec.trafficPolicy?.portLevelSettings[0]?.tls?.mode, 'SIMPLE');
  t.is(dr.spec.subsets[0]?.trafficPolicy?.tls?.mode, 'DISABLE');
});

test("Bookinfo's destination-rule-all-mtls shape parses unchanged", (t) => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
  - name: v3
    labels:
      version: v3`;
  const r = parseConfigText(text, 'dr.yaml');
  t.true(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
});

const P = 'dr.yaml: DestinationRule default/cnn: spec.trafficPolicy';
const invalid: { title: string; policy: string; expected: string[] }[] = [
  { title: 'unknown mode', policy: '    tls: {mode: STRICT}', expected: [`${P}.tls.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL`] },
  { title: 'MUTUAL without certificate and key', policy: '    tls: {mode: MUTUAL}', expected: [`${P}.tls.clientCertificate: required with mode MUTUAL`, `${P}.tls.privateKey: required with mode MUTUAL`] },
  { title: 'SIMPLE with a client certificate', policy: '    tls: {mode: SIMPLE, clientCertificate: /c.pem}', expected: [`${P}.tls.clientCertificate: needs mode MUTUAL`] },
  { title: 'DISABLE with sni', policy: '    tls: {mode: DISABLE, sni: a.b}', expected: [`${P}.tls.sni: has no effect with mode DISABLE`] },
  {
    title: 'ISTIO_MUTUAL with files',
    policy: '    tls: {mode: ISTIO_MUTUAL, caCertificates: /ca.pem}',
    expected: [`${P}.tls.caCertificates: cannot be set with ISTIO_MUTUAL (Citadel issues the mesh certificates)`],
  },
  {
    title: 'ISTIO_MUTUAL with subjectAltNames',
    policy: '    tls: {mode: ISTIO_MUTUAL, subjectAltNames: [a]}',
    expected: [`${P}.tls.subjectAltNames: is not supported with ISTIO_MUTUAL yet (meshfed sets the mesh SNI and checks SPIFFE identities itself)`],
  },
  {
    title: 'insecureSkipVerify with caCertificates',
    policy: '    tls: {mode: SIMPLE, insecureSkipVerify: true, caCertificates: /ca.pem}',
    expected: [`${P}.tls.caCertificates: has no effect with insecureSkipVerify`],
  },
  { title: 'insecureSkipVerify not a boolean', policy: '    tls: {mode: SIMPLE, insecureSkipVerify: yes please}', expected: [`${P}.tls.insecureSkipVerify: must be true or false`] },
  { title: 'an empty sni', policy: "    tls: {mode: SIMPLE, sni: ''}", expected: [`${P}.tls.sni: must not be empty`] },
  { title: 'an unknown field', policy: '    tls: {mode: SIMPLE, cipherSuites: [x]}', expected: [`${P}.tls.cipherSuites: unknown field`] },
  {
    title: 'credentialName in a port-level setting',
    policy: '    portLevelSettings:\n    - port: {number: 443}\n      tls: {mode: SIMPLE, credentialName: cnn-secret}',
    expected: [`${P}.portLevelSettings[0].tls.credentialName: credentialName (certificates from a Kubernetes secret) is not supported yet: use file paths`],
  },
];

for (const row of invalid) {
  test(`tls refuses: ${row.title}`, (t) => {
    const r = parseConfigText(DR(row.policy), 'dr.yaml');
    t.false(r.ok);
    if (!r.ok) t.deepEqual(r.errors.map(String).sort(), [...row.expected].sort());
  });
}

test('credentialName and caCrl are CONFIG_UNSUPPORTED, contradictions CONFIG_INVALID', (t) => {
  const r = parseConfigText(DR('    tls: {mode: MUTUAL, caCrl: /crl.pem, privateKey: /k.pem}'), 'dr.yaml');
  if (r.ok) return t.fail('accepted');
  t.deepEqual(r.errors.map((e) => `${e.code} ${e.path}`).sort(), [
    'CONFIG_INVALID spec.trafficPolicy.tls.clientCertificate',
    'CONFIG_UNSUPPORTED spec.trafficPolicy.tls.caCrl',
  ]);
});

// ---- ServiceEntry resolution ----

const SE = (spec: string): string => `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: cnn, namespace: egress}\nspec:\n${spec}`;
const SP = 'se.yaml: ServiceEntry egress/cnn: spec.';

function entry(text: string): ServiceEntryConfig {
  const r = parseConfigText(text, 'se.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value[0] as ServiceEntryConfig;
}

test('resolution DNS without endpoints: the hosts are resolved', (t) => {
  const se = entry(SE('  hosts: [edition.cnn.com]\n  ports: [{number: 80, name: http-port, protocol: HTTP}]\n  resolution: DNS'));
  t.is(se.spec.resolution, 'DNS');
  t.deepEqual(se.spec.endpoints, []);
});

test('resolution DNS with hostname and IP endpoints', (t) => {
  const se = entry(SE('  hosts: [api.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n  endpoints:\n  - address: a.service.consul\n  - {address: 127.66.1.1, weight: 2}'));
  t.deepEqual(se.spec.endpoints, [
    { address: 'a.service.consul', ports: {}, labels: {}, weight: 1 },
    { address: '127.66.1.1', ports: {}, labels: {}, weight: 2 },
  ]);
});

test('resolution DNS_ROUND_ROBIN with one endpoint', (t) => {
  const se = entry(SE('  hosts: [api.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.service.consul}]'));
  t.is(se.spec.resolution, 'DNS_ROUND_ROBIN');
});

const seInvalid: { title: string; spec: string; expected: string[] }[] = [
  {
    title: 'a wildcard host without endpoints',
    spec: '  hosts: ["*.cnn.com"]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS',
    // Wildcard hosts are refused anyway today; the resolution check names the reason that stays.
    expected: [
      `${SP}hosts[0]: wildcard hosts are not supported yet`,
      `${SP}hosts[0]: must be a host name (lower-case letters, digits, -, .)`,
      `${SP}hosts[0]: a wildcard host cannot be resolved: resolution DNS without endpoints resolves the hosts`,
    ],
  },
  {
    title: 'DNS_ROUND_ROBIN with two endpoints',
    spec: '  hosts: [a.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS_ROUND_ROBIN\n  endpoints: [{address: a.b}, {address: c.d}]',
    expected: [`${SP}endpoints: resolution DNS_ROUND_ROBIN takes at most one endpoint`],
  },
  {
    title: 'an endpoint that is neither an IP nor a DNS name',
    spec: '  hosts: [a.example]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n  endpoints: [{address: "unix:///var/run/x.sock"}]',
    expected: [`${SP}endpoints[0].address: must be an IP address or a DNS name with resolution DNS`],
  },
  {
    title: 'a workloadSelector with DNS',
    spec: '  hosts: [a.example]\n  location: MESH_INTERNAL\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n  workloadSelector: {labels: {app: a}}',
    expected: [`${SP}workloadSelector: needs resolution STATIC, not DNS`],
  },
];

for (const row of seInvalid) {
  test(`resolution refuses: ${row.title}`, (t) => {
    const r = parseConfigText(SE(row.spec), 'se.yaml');
    t.false(r.ok);
    if (!r.ok) t.deepEqual(r.errors.map(String), row.expected);
  });
}
