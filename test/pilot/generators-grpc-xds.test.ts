import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import test from 'ava';
import { generate } from '../../src/pilot/generators/index.ts';
import { serviceClient, XDS_INCLUDE_DIRS } from '../../src/xds/protos.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { richSnapshot } from './support/fixtures.ts';
import { proxyNode } from './support/snapshot-builder.ts';

/**
 * Proxyless output must be accepted by a client nobody here wrote: each resource goes through the
 * wire (our serializer) and then through @grpc/grpc-js-xds's own resource decoders and validators,
 * the ones that decide ACK or NACK in a real proxyless client.
 */
interface AnyMessage {
  type_url: string;
  value: Buffer;
}
interface ResourceType {
  decode(context: unknown, resource: AnyMessage): { name: string; error?: string };
}
interface ResourceTypeClass {
  get(): ResourceType;
}

const require = createRequire(import.meta.url);
const xdsBuild = '@grpc/grpc-js-xds/build/src';
// The HTTP filters grpc-js-xds's register() sets up: the router and fault injection.
(require(`${xdsBuild}/http-filter/router-filter.js`) as { setup(): void }).setup();
(require(`${xdsBuild}/http-filter/fault-injection-filter.js`) as { setup(): void }).setup();
const resourceTypes: Record<XdsTypeUrl, ResourceTypeClass> = {
  [TYPE_URL.listener]: (require(`${xdsBuild}/xds-resource-type/listener-resource-type.js`) as { ListenerResourceType: ResourceTypeClass })
    .ListenerResourceType,
  [TYPE_URL.route]: (require(`${xdsBuild}/xds-resource-type/route-config-resource-type.js`) as { RouteConfigurationResourceType: ResourceTypeClass })
    .RouteConfigurationResourceType,
  [TYPE_URL.cluster]: (require(`${xdsBuild}/xds-resource-type/cluster-resource-type.js`) as { ClusterResourceType: ResourceTypeClass })
    .ClusterResourceType,
  [TYPE_URL.endpoint]: (require(`${xdsBuild}/xds-resource-type/endpoint-resource-type.js`) as { EndpointResourceType: ResourceTypeClass })
    .EndpointResourceType,
};

/** A DiscoveryResponse decoder that leaves resources as raw `Any`s, as a client receives them. */
function rawResponseDecoder(): (wire: Buffer) => unknown {
  const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', { keepCase: true, longs: String, enums: String, includeDirs: XDS_INCLUDE_DIRS });
  let node: unknown = grpc.loadPackageDefinition(def);
  for (const part of 'envoy.service.discovery.v3.AggregatedDiscoveryService'.split('.')) node = (node as Record<string, unknown>)[part];
  return (node as grpc.ServiceClientConstructor).service['StreamAggregatedResources']?.responseDeserialize ?? (() => undefined);
}

const decodeRaw = rawResponseDecoder();
const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['StreamAggregatedResources'];
const context = { server: { serverUri: 'localhost:15010', ignoreResourceDeletion: false } };

for (const typeUrl of Object.values(TYPE_URL) as XdsTypeUrl[]) {
  test(`grpc-js-xds accepts proxyless ${typeUrl.split('.').at(-1)} resources`, (t) => {
    const resources = generate(proxyNode('proxyless'), typeUrl, richSnapshot());
    t.true(resources.length > 0);
    if (!method) {
      t.fail('StreamAggregatedResources is not loaded');
      return;
    }
    const wire = method.responseSerialize({ version_info: '1', type_url: typeUrl, nonce: '1', resources: resources.map((r) => r.resource) });
    const decoded = decodeRaw(wire) as { resources?: AnyMessage[] };
    const results = (decoded.resources ?? []).map((any) => resourceTypes[typeUrl].get().decode(context, any));
    t.deepEqual(
      results.map((r) => [r.name, r.error ?? 'valid']),
      resources.map((r) => [r.name, 'valid']),
    );
  });
}
