import test from 'ava';
import { generationKey } from '../../src/pilot/generators/index.ts';
import { TYPE_URL, TYPED_CONFIG } from '../../src/xds/type-urls.ts';
import { validateListener } from '../../src/xds/index.ts';
import { listenersOf } from './support/fixtures.ts';
import { proxyNode, SnapshotBuilder } from './support/snapshot-builder.ts';
import { decoded } from '../xds/support/decode.ts';

/**
 * Pilot's LDS with AuthorizationPolicies: the inbound HTTP chains of the selected workload carry
 * Envoy RBAC filters in Istio's order (AUDIT as LOG, DENY, ALLOW) before the router; other
 * workloads get none; the listener survives the wire and the sidecar's validator; LDS keys name
 * labels once a policy selects by them.
 */

const AP = (name: string, spec: string, ns = 'default'): string =>
  `---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n${spec}\n`;

const POLICIES =
  AP('allow', '  selector: {matchLabels: {app: reviews}}\n  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/default/sa/productpage]}') +
  AP('deny', '  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [TRACE]}', 'istio-system') +
  AP('audit', '  action: AUDIT\n  selector: {matchLabels: {app: reviews}}\n  rules:\n  - {}');

const snapshot = () =>
  new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080, { labels: { app: 'reviews' } }).workload('ratings-v1', 'ratings', 9080).yaml(POLICIES).build();

function inboundFilters(workload: string, labels: Record<string, string>, ip: string): { names: string[]; actions: unknown[]; listener: unknown } {
  const proxy = proxyNode('sidecar', { workload, labels, ip });
  const l = listenersOf(proxy, snapshot()).get('virtualInbound');
  const chain = l?.filter_chains?.[0];
  const hcm = chain?.filters[0]?.typed_config as { http_filters: { name: string; typed_config: { '@type': string; rules?: { action: string } } }[] };
  return {
    names: hcm.http_filters.map((f) => f.name),
    actions: hcm.http_filters.filter((f) => f.typed_config['@type'] === TYPED_CONFIG.rbac).map((f) => f.typed_config.rules?.action),
    listener: l,
  };
}

const ROWS = [
  { name: 'selected workload: LOG, DENY, ALLOW then the router', workload: 'reviews-v1', labels: { app: 'reviews' }, ip: '127.0.1.1', actions: ['LOG', 'DENY', 'ALLOW'] },
  { name: 'other workload: only the mesh-wide DENY', workload: 'ratings-v1', labels: { app: 'ratings' }, ip: '127.0.1.2', actions: ['DENY'] },
];

for (const row of ROWS) {
  test(row.name, (t) => {
    const got = inboundFilters(row.workload, row.labels, row.ip);
    t.deepEqual(got.actions, row.actions);
    t.is(got.names.at(-1), 'envoy.filters.http.router');
    const v = validateListener(decoded(got.listener as object));
    t.true(v.ok, v.ok ? '' : v.errors.join('\n'));
  });
}

test('no policy: the inbound chain runs only the router', (t) => {
  const snap = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080).build();
  const l = listenersOf(proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.1' }), snap).get('virtualInbound');
  const hcm = l?.filter_chains?.[0]?.filters[0]?.typed_config as { http_filters: { name: string }[] };
  t.deepEqual(hcm.http_filters.map((f) => f.name), ['envoy.filters.http.router']);
});

test('LDS generation key names labels only when a policy selects by them', (t) => {
  const proxy = proxyNode('sidecar', { workload: 'reviews-v1', labels: { app: 'reviews' } });
  t.true(generationKey(proxy, TYPE_URL.listener, snapshot()).includes('authz-labels='));
  const plain = new SnapshotBuilder().workload('reviews-v1', 'reviews', 9080).yaml(AP('d', '  action: DENY')).build();
  t.false(generationKey(proxy, TYPE_URL.listener, plain).includes('authz-labels='));
});
