import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { encodeResourceField } from '../../src/xds/discovery-response-codec.ts';
import { serviceRoot } from '../../src/xds/protos.ts';
import type { RouteConfiguration, XdsResourceBody } from '../../src/xds/resources.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { richSnapshot } from '../pilot/support/fixtures.ts';
import { proxyNode } from '../pilot/support/snapshot-builder.ts';

/**
 * encodeResourceField assembles a RouteConfiguration from virtual hosts encoded one by one. The
 * bytes must be exactly those of encoding the whole DiscoveryResponse field with protobufjs (the
 * proto-loader serializer's encoder), for every route configuration the generators make and for
 * one with top-level fields besides its virtual hosts.
 */

const response = serviceRoot('envoy.service.discovery.v3.AggregatedDiscoveryService').lookupType('envoy.service.discovery.v3.DiscoveryResponse');
const whole = (r: XdsResourceBody): Buffer => Buffer.from(response.encode(response.fromObject({ resources: [r] })).finish());

const snap = richSnapshot();
const routeConfigs: [string, RouteConfiguration][] = [];
for (const proxy of [proxyNode('sidecar'), proxyNode('sidecar', { namespace: 'other', workload: 'x', ip: '127.0.1.80' }), proxyNode('proxyless', { ip: '127.0.1.60', workload: 'client' })]) {
  for (const r of generate(proxy, TYPE_URL.route, snap)) {
    if (r.resource['@type'] === TYPE_URL.route) routeConfigs.push([`${proxy.type} ${proxy.namespace} ${r.name}`, r.resource]);
  }
}
const first = routeConfigs[0]?.[1];
if (first) {
  routeConfigs.push([
    'with fields after the virtual hosts',
    { ...first, validate_clusters: { value: false }, request_headers_to_remove: ['x-a'], response_headers_to_add: [{ header: { key: 'x-b', value: '1' } }] } as unknown as RouteConfiguration,
  ]);
  routeConfigs.push(['without virtual hosts', { ...first, virtual_hosts: [] }]);
  routeConfigs.push(['with an empty name', { ...first, name: '' }]);
}

test('the generators make route configurations with several virtual hosts', (t) => {
  t.true(routeConfigs.length > 4);
  t.true(routeConfigs.some(([, rc]) => rc.virtual_hosts.length > 3));
});

for (const [title, rc] of routeConfigs) {
  test(`a RouteConfiguration assembled from its virtual hosts is byte-equal to its whole encoding: ${title}`, (t) => {
    t.deepEqual(encodeResourceField(rc), whole(rc));
    // A second route configuration made of the same virtual host objects reuses their bytes.
    t.deepEqual(encodeResourceField({ ...rc, virtual_hosts: [...rc.virtual_hosts].reverse() }), whole({ ...rc, virtual_hosts: [...rc.virtual_hosts].reverse() }));
  });
}
