import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { ConfigObject } from '../../src/pilot/config/index.ts';
import { generate } from '../../src/pilot/generators/index.ts';
import type { Snapshot } from '../../src/pilot/model/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import type { XdsResource } from '../../src/xds/resources.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';

/**
 * Sidecar outbound clusters are memoised per service object by the DestinationRule of the host and
 * whether it has mesh endpoints; sidecar virtual hosts per service object by port, proxy namespace,
 * domain suffix, the proxy's labels (when a match block reads them), the host's VirtualService and
 * each destination's service and DestinationRule; a sidecar's virtual listeners per workload
 * endpoint list by its ip, capture mode and its hosts' service objects. Each row changes one input alone, over a
 * snapshot built with the previous one, with every other config object the same object (so the
 * memo is consulted and only the changed input can tell the entries apart): the output must
 * change, and must equal the output over a snapshot built from scratch.
 */

const doc = (s: string): string => `${s}\n---\n`;
const parse = (text: string): ConfigObject[] => {
  const r = parseConfigText(text, 'test.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
};
const DR = (host: string, spec: string): string =>
  doc(`apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${host}-dr}\nspec:\n  host: ${host}\n${spec}`);
const VS = (host: string, http: string): string =>
  doc(`apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${host}-vs}\nspec:\n  hosts: [${host}]\n  http:\n${http}`);
// Objects present in both snapshots of every row: a memo key that named them alone would hit.
const COMMON = parse(`${DR('ratings', '  trafficPolicy: {loadBalancer: {simple: RANDOM}}')}${VS('ratings', '  - route: [{destination: {host: ratings}}]')}`);

interface Mesh {
  /** reviews' protocol (a service-object input). */
  protocol?: 'http' | 'http2';
  /** reviews' endpoints have no sidecar (auto mTLS turns off). */
  plaintext?: boolean;
  /** details listens on another port (a destination's service object). */
  detailsPort?: number;
  /** productpage (the proxy's own workload) port and protocol (its inbound listener). */
  ownPort?: number;
  ownProtocol?: 'http' | 'tcp';
}

function mesh(yaml: string, m: Mesh = {}): SnapshotBuilder {
  const b = new SnapshotBuilder({ cluster: 'east' })
    .workload('productpage-v1', 'productpage', m.ownPort ?? 9080, { protocol: m.ownProtocol ?? 'http' })
    .workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews', version: 'v1' }, sidecar: m.plaintext !== true, protocol: m.protocol ?? 'http' })
    .workload('reviews-v2', 'reviews', 9080, { labels: { app: 'reviews', version: 'v2' }, sidecar: m.plaintext !== true, protocol: m.protocol ?? 'http' })
    .workload('ratings-v1', 'ratings', 9080)
    .workload('details-v1', 'details', m.detailsPort ?? 9080)
    .objects(COMMON);
  return yaml === '' ? b : b.yaml(yaml);
}

const sidecar = proxyNode('sidecar', { labels: { app: 'productpage', version: 'v1' } });

interface Row {
  title: string;
  type: XdsTypeUrl;
  before: string;
  after: string;
  meshBefore?: Mesh;
  meshAfter?: Mesh;
  proxyAfter?: ProxyNode;
}

const TO_DETAILS = VS('reviews', '  - route: [{destination: {host: details}}]');
const SOURCE_LABELS = VS('reviews', '  - match: [{sourceLabels: {version: v1}}]\n    route: [{destination: {host: reviews, subset: v1}}]\n  - route: [{destination: {host: reviews}}]');
const SUBSETS = DR('reviews', '  subsets: [{name: v1, labels: {version: v1}}]');

const rows: Row[] = [
  // CDS: the shared sidecar outbound clusters.
  { title: 'the DestinationRule’s traffic policy', type: TYPE_URL.cluster, before: DR('reviews', '  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}'), after: DR('reviews', '  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}') },
  { title: 'the DestinationRule’s subsets', type: TYPE_URL.cluster, before: '', after: SUBSETS },
  { title: 'the DestinationRule’s tls', type: TYPE_URL.cluster, before: '', after: DR('reviews', '  trafficPolicy: {tls: {mode: DISABLE}}') },
  { title: 'mesh endpoints (auto mTLS)', type: TYPE_URL.cluster, before: '', after: '', meshAfter: { plaintext: true } },
  { title: 'the service’s port protocol', type: TYPE_URL.cluster, before: '', after: '', meshAfter: { protocol: 'http2' } },
  // LDS: the sidecar's virtualOutbound and virtualInbound.
  { title: 'the proxy’s ip', type: TYPE_URL.listener, before: '', after: '', proxyAfter: proxyNode('sidecar', { labels: { app: 'productpage', version: 'v1' }, ip: '127.0.1.99' }) },
  { title: 'capture (INTERCEPTION_MODE REDIRECT)', type: TYPE_URL.listener, before: '', after: '', proxyAfter: proxyNode('sidecar', { labels: { app: 'productpage', version: 'v1' }, interceptionMode: 'REDIRECT' }) },
  { title: 'its workload’s endpoints (another port)', type: TYPE_URL.listener, before: '', after: '', meshAfter: { ownPort: 9081 } },
  { title: 'its service’s protocol (tcp: a tcp_proxy chain)', type: TYPE_URL.listener, before: '', after: '', meshAfter: { ownProtocol: 'tcp' } },
  // RDS: the sidecar virtual hosts.
  { title: 'the host’s VirtualService', type: TYPE_URL.route, before: VS('reviews', '  - route: [{destination: {host: reviews}}]\n    timeout: 1s'), after: VS('reviews', '  - route: [{destination: {host: reviews}}]\n    timeout: 2s') },
  { title: 'a destination’s service (its only port)', type: TYPE_URL.route, before: TO_DETAILS, after: TO_DETAILS, meshAfter: { detailsPort: 9081 } },
  {
    title: 'a destination’s DestinationRule (consistent hash)',
    type: TYPE_URL.route,
    before: TO_DETAILS,
    after: `${TO_DETAILS}${DR('details', '  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}')}`,
  },
  { title: 'the host’s own DestinationRule without a VirtualService', type: TYPE_URL.route, before: '', after: DR('reviews', '  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}') },
  { title: 'the proxy’s namespace (short domains)', type: TYPE_URL.route, before: '', after: '', proxyAfter: proxyNode('sidecar', { namespace: 'other', workload: 'other-v1', ip: '127.0.1.70' }) },
  {
    title: 'the proxy’s labels under a sourceLabels match',
    type: TYPE_URL.route,
    before: `${SOURCE_LABELS}${SUBSETS}`,
    after: `${SOURCE_LABELS}${SUBSETS}`,
    proxyAfter: proxyNode('sidecar', { labels: { app: 'productpage', version: 'v2' } }),
  },
];

const out = (type: XdsTypeUrl, proxy: ProxyNode, snap: Snapshot): string => JSON.stringify(generate(proxy, type, snap));

for (const row of rows) {
  test(`a ${row.type === TYPE_URL.cluster ? 'cluster' : row.type === TYPE_URL.listener ? 'listener' : 'virtual host'} memo hit never hides a change of ${row.title}`, (t) => {
    const after = row.proxyAfter ?? sidecar;
    const s1 = mesh(row.before, row.meshBefore).build('v1');
    const before = out(row.type, sidecar, s1);
    const s2 = mesh(row.after, row.meshAfter).build('v2', s1);
    const fresh = mesh(row.after, row.meshAfter).build('v2');
    t.is(s2.services.get('ratings.default.svc.cluster.local'), s1.services.get('ratings.default.svc.cluster.local'), 'unchanged services are shared');
    const shared = out(row.type, after, s2);
    t.not(shared, before, 'the input changes the output');
    t.is(shared, out(row.type, after, fresh), 'the memo serves what a fresh generation gives');
  });
}

const byName = (rs: XdsResource[]): Map<string, unknown> => new Map(rs.map((r) => [r.name, r.resource]));
const hostsOf = (rs: XdsResource[]): Map<string, unknown> => {
  const rc = rs[0]?.resource;
  return new Map(rc !== undefined && 'virtual_hosts' in rc ? rc.virtual_hosts.map((v) => [v.name, v]) : []);
};

test('a DestinationRule change renews only its host’s clusters and virtual hosts: every other one is the same object', (t) => {
  const s1 = mesh('').build('v1');
  const s2 = mesh('').build('v2', s1);
  const c1 = byName(generate(sidecar, TYPE_URL.cluster, s1));
  const v1 = hostsOf(generate(sidecar, TYPE_URL.route, s1));
  t.true(v1.size > 1);
  for (const [name, c] of byName(generate(sidecar, TYPE_URL.cluster, s2))) if (name.startsWith('outbound|')) t.is(c, c1.get(name), `${name}: the same object`);
  for (const [name, v] of hostsOf(generate(sidecar, TYPE_URL.route, s2))) t.is(v, v1.get(name), `${name}: the same object`);
  const s3 = mesh(DR('reviews', '  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}')).build('v3', s2);
  for (const [name, c] of byName(generate(sidecar, TYPE_URL.cluster, s3))) {
    if (!name.startsWith('outbound|')) continue;
    if (name.endsWith('|reviews.default.svc.cluster.local')) t.not(c, c1.get(name), `${name}: regenerated`);
    else t.is(c, c1.get(name), `${name}: untouched`);
  }
  for (const [name, v] of hostsOf(generate(sidecar, TYPE_URL.route, s3))) {
    if (name.startsWith('reviews.')) t.not(v, v1.get(name), `${name}: regenerated`);
    else t.is(v, v1.get(name), `${name}: untouched`);
  }
});
