import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { serviceClient, XDS_INCLUDE_DIRS } from '../../../src/xds/protos.ts';
import type { XdsResourceBody } from '../../../src/xds/resources.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../../src/xds/type-urls.ts';

/**
 * Decodes resources the way a proxyless @grpc/grpc-js-xds client does: through the wire (our
 * serializer), then the library's own resource decoders and validators. Returns, per resource,
 * the client's parsed update (`value`) or its NACK reason (`error`).
 */
interface AnyMessage {
  type_url: string;
  value: Buffer;
}
interface ResourceType {
  decode(context: unknown, resource: AnyMessage): { name: string; value?: unknown; error?: string };
}
interface ResourceTypeClass {
  get(): ResourceType;
}

const require = createRequire(import.meta.url);
const xdsBuild = '@grpc/grpc-js-xds/build/src';
(require(`${xdsBuild}/http-filter/router-filter.js`) as { setup(): void }).setup();
(require(`${xdsBuild}/http-filter/fault-injection-filter.js`) as { setup(): void }).setup();
const resourceTypes: Record<XdsTypeUrl, ResourceTypeClass> = {
  [TYPE_URL.listener]: (require(`${xdsBuild}/xds-resource-type/listener-resource-type.js`) as { ListenerResourceType: ResourceTypeClass }).ListenerResourceType,
  [TYPE_URL.route]: (require(`${xdsBuild}/xds-resource-type/route-config-resource-type.js`) as { RouteConfigurationResourceType: ResourceTypeClass })
    .RouteConfigurationResourceType,
  [TYPE_URL.cluster]: (require(`${xdsBuild}/xds-resource-type/cluster-resource-type.js`) as { ClusterResourceType: ResourceTypeClass }).ClusterResourceType,
  [TYPE_URL.endpoint]: (require(`${xdsBuild}/xds-resource-type/endpoint-resource-type.js`) as { EndpointResourceType: ResourceTypeClass }).EndpointResourceType,
};

const def = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', { keepCase: true, longs: String, enums: String, includeDirs: XDS_INCLUDE_DIRS });
let node: unknown = grpc.loadPackageDefinition(def);
for (const part of 'envoy.service.discovery.v3.AggregatedDiscoveryService'.split('.')) node = (node as Record<string, unknown>)[part];
const decodeRaw = (node as grpc.ServiceClientConstructor).service['StreamAggregatedResources']?.responseDeserialize;
const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['StreamAggregatedResources'];
const context = { server: { serverUri: 'localhost:15010', ignoreResourceDeletion: false }, bootstrap: { certificateProviders: {} } };

export function grpcXdsDecode(typeUrl: XdsTypeUrl, resources: readonly XdsResourceBody[]): { name: string; value?: unknown; error?: string }[] {
  if (!method || !decodeRaw) throw new Error('StreamAggregatedResources is not loaded');
  const wire = method.responseSerialize({ version_info: '1', type_url: typeUrl, nonce: '1', resources });
  const decoded = decodeRaw(wire) as { resources?: AnyMessage[] };
  return (decoded.resources ?? []).map((any) => resourceTypes[typeUrl].get().decode(context, any));
}
