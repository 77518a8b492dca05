import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { serviceClient } from '../../src/xds/protos.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { richSnapshot } from './support/fixtures.ts';
import { proxyNode } from './support/snapshot-builder.ts';

/**
 * Guards every field the generators set against protobufjs dropping it (a misspelled field name is
 * silently lost on encode): each response is encoded with the loaded ADS serializer and decoded, and
 * everything we set must come back. Decoding may add keys (oneof discriminators such as
 * `port_specifier`), so the check is "expected is a subset of decoded".
 */
const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['StreamAggregatedResources'];

/** Paths of `expected` that are missing from or differ in `actual`. */
function missing(expected: unknown, actual: unknown, path = ''): string[] {
  if (Array.isArray(expected)) {
    // An empty repeated field is not on the wire at all.
    if (expected.length === 0 && actual === undefined) return [];
    if (!Array.isArray(actual)) return [`${path}: expected an array, got ${JSON.stringify(actual)}`];
    if (actual.length !== expected.length) return [`${path}: length ${expected.length} became ${actual.length}`];
    return expected.flatMap((e, i) => missing(e, actual[i], `${path}[${i}]`));
  }
  if (typeof expected === 'object' && expected !== null) {
    if (typeof actual !== 'object' || actual === null) return [`${path}: expected an object, got ${JSON.stringify(actual)}`];
    return Object.entries(expected).flatMap(([k, v]) => missing(v, (actual as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return expected === actual ? [] : [`${path}: ${JSON.stringify(expected)} became ${JSON.stringify(actual)}`];
}

const proxies: ProxyNode[] = [
  proxyNode('sidecar', { workload: 'reviews-v1', ip: '127.0.1.2' }),
  proxyNode('router', { ip: '127.0.2.1', workload: 'eastwestgateway', namespace: 'istio-system' }),
  proxyNode('proxyless'),
];

for (const proxy of proxies) {
  for (const typeUrl of Object.values(TYPE_URL) as XdsTypeUrl[]) {
    test(`${proxy.type} ${typeUrl.split('.').at(-1)} survives proto encode/decode`, (t) => {
      const resources = generate(proxy, typeUrl, richSnapshot());
      if (!(proxy.type === 'router' && typeUrl === TYPE_URL.route)) t.true(resources.length > 0, 'the fixture yields resources');
      for (const r of resources) t.is(r.resource['@type'], typeUrl);
      const response = { version_info: 'v1', type_url: typeUrl, nonce: 'n1', resources: resources.map((r) => r.resource) };
      if (!method) {
        t.fail('StreamAggregatedResources is not loaded');
        return;
      }
      const wire = method.responseSerialize(response);
      t.true(wire.length > 0);
      const decoded: unknown = method.responseDeserialize(wire);
      t.deepEqual(missing(response, decoded), []);
    });
  }
}

test('the subset check itself catches a dropped field', (t) => {
  const resources = generate(proxies[0] as ProxyNode, TYPE_URL.cluster, richSnapshot());
  const bad = { ...resources[0]?.resource, connect_timeout_misspelled: { seconds: '1' } };
  const response = { version_info: 'v1', type_url: TYPE_URL.cluster, nonce: 'n', resources: [bad] };
  if (!method) {
    t.fail('StreamAggregatedResources is not loaded');
    return;
  }
  const decoded: unknown = method.responseDeserialize(method.responseSerialize(response));
  t.deepEqual(missing(response, decoded), ['.resources[0].connect_timeout_misspelled: expected an object, got undefined']);
});
