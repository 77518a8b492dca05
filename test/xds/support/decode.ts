import { serviceClient } from '../../../src/xds/protos.ts';

const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service.StreamAggregatedResources;

/**
 * Encodes a typed resource (`{ '@type', ...fields }`) inside a DiscoveryResponse and decodes it back
 * with the ADS response (de)serializer: exactly the decoded shape a proxy's validator receives.
 */
export function decoded(resource: object): unknown {
  if (!method) throw new Error('ADS method missing');
  const back = method.responseDeserialize(method.responseSerialize({ resources: [resource] })) as { resources?: unknown[] };
  return back.resources?.[0];
}
