import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import type { RouteConfiguration, VirtualHost, XdsResourceBody } from './resources.ts';
import { serviceClient, serviceRoot } from './protos.ts';
import { TYPE_URL } from './type-urls.ts';

/**
 * Encodes a `DiscoveryResponse` from parts encoded once and shared by many streams.
 *
 * Protobuf lets a message be the concatenation of its fields, and a repeated field be the
 * concatenation of its elements. `encodeResourceField` encodes one resource as the bytes of field 2
 * (`repeated google.protobuf.Any resources`) of a DiscoveryResponse; `encodeDiscoveryResponse`
 * prepends the per-stream fields (version, type URL, nonce) to any number of those. The result is
 * byte-for-byte a DiscoveryResponse that any xDS client decodes, and the costly part (each resource
 * and its `Any`) is encoded once, however many streams send it.
 */

type Serialize = (value: unknown) => Buffer;

let cached: Serialize | undefined;

/** proto-loader's serializer of envoy.service.discovery.v3.DiscoveryResponse. */
function serializeResponse(): Serialize {
  if (!cached) {
    const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['StreamAggregatedResources'];
    if (!method) throw new Error('ADS service has no StreamAggregatedResources');
    cached = method.responseSerialize as Serialize;
  }
  return cached;
}

/**
 * One resource, packed into `Any`, as the bytes of a DiscoveryResponse's `resources` field.
 * A RouteConfiguration is assembled from its virtual hosts encoded one by one (see
 * encodeRouteConfigurationField); every other type is encoded whole.
 */
export function encodeResourceField(resource: XdsResourceBody): Buffer {
  if (resource['@type'] === TYPE_URL.route) return encodeRouteConfigurationField(resource);
  return serializeResponse()({ resources: [resource] });
}

interface RouteCodecs {
  routeConfiguration: protobuf.Type;
  virtualHost: protobuf.Type;
}

let routeCodecs: RouteCodecs | undefined;

function routeTypes(): RouteCodecs {
  if (!routeCodecs) {
    const root = serviceRoot('envoy.service.discovery.v3.AggregatedDiscoveryService');
    routeCodecs = {
      routeConfiguration: root.lookupType('envoy.config.route.v3.RouteConfiguration'),
      virtualHost: root.lookupType('envoy.config.route.v3.VirtualHost'),
    };
  }
  return routeCodecs;
}

/** `virtual_hosts` elements (field 2 of RouteConfiguration, tag included) by virtual host object. */
const virtualHostFields = new WeakMap<VirtualHost, Buffer>();

function virtualHostField(vh: VirtualHost): Buffer {
  let f = virtualHostFields.get(vh);
  if (!f) {
    const t = routeTypes().virtualHost;
    f = lengthDelimited(VIRTUAL_HOSTS_FIELD, Buffer.from(t.encode(t.fromObject(vh)).finish()));
    virtualHostFields.set(vh, f);
  }
  return f;
}

const VIRTUAL_HOSTS_FIELD = 2;

/**
 * A RouteConfiguration as encodeResourceField's bytes, byte for byte what encoding it whole gives,
 * from parts: protobufjs writes fields in field-number order, so the message is `name` (field 1),
 * then each virtual host (field 2), then every other field (3 and up); each virtual host's bytes
 * are encoded once per virtual host object (the generators share unchanged ones between
 * snapshots, generator-routes.ts), so re-encoding a route config of a thousand virtual hosts after
 * one changed costs one virtual host. The `Any` around it is written as protobufjs writes it
 * (type_url, then value). Virtual host objects must not change once encoded.
 */
function encodeRouteConfigurationField(rc: RouteConfiguration): Buffer {
  const { '@type': typeUrl, name, virtual_hosts: hosts, ...rest } = rc;
  const t = routeTypes().routeConfiguration;
  const head = Buffer.from(t.encode(t.fromObject({ name })).finish());
  const tail = Object.keys(rest).length > 0 ? Buffer.from(t.encode(t.fromObject(rest)).finish()) : Buffer.alloc(0);
  const value = Buffer.concat([head, ...hosts.map(virtualHostField), tail]);
  const url = typeUrl.startsWith('.') ? typeUrl.slice(1) : typeUrl;
  const any = Buffer.concat([lengthDelimited(1, Buffer.from(url.includes('/') ? url : `/${url}`)), lengthDelimited(2, value)]);
  return lengthDelimited(2, any);
}

/** A whole DiscoveryResponse: the stream's own fields, then the resources encoded beforehand. */
export function encodeDiscoveryResponse(
  head: { version_info: string; type_url: string; nonce: string },
  resourceFields: readonly Buffer[],
): Buffer {
  return Buffer.concat([serializeResponse()(head), ...resourceFields]);
}

/**
 * The ADS service definition with a response serializer that passes already encoded responses
 * (Buffers from `encodeDiscoveryResponse`) through untouched and encodes anything else as usual.
 */
export function adsServiceWithEncodedResponses(): grpc.ServiceDefinition {
  const service = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service;
  const methods = Object.entries(service).map(([name, method]) => {
    const encode = method.responseSerialize as Serialize;
    return [name, { ...method, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : encode(v)) }] as const;
  });
  return Object.fromEntries(methods) as grpc.ServiceDefinition;
}

let cachedDelta: Serialize | undefined;

/** proto-loader's serializer of envoy.service.discovery.v3.DeltaDiscoveryResponse. */
function serializeDeltaResponse(): Serialize {
  if (!cachedDelta) {
    const method = serviceClient('envoy.service.discovery.v3.AggregatedDiscoveryService').service['DeltaAggregatedResources'];
    if (!method) throw new Error('ADS service has no DeltaAggregatedResources');
    cachedDelta = method.responseSerialize as Serialize;
  }
  return cachedDelta;
}

const LEN = 2;
const tag = (field: number): number => (field << 3) | LEN;

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(tag(field)), varint(payload.length), payload]);
}

/**
 * One resource as the bytes of a DeltaDiscoveryResponse's `resources` field (field 2, a
 * `Resource`), from the `resources` field of encodeResourceField: `Resource.resource` is field 2
 * too, so those bytes are the resource's `Any` as it is, preceded by `version` (1) and `name` (3).
 */
export function encodeDeltaResourceField(name: string, version: string, resourceField: Buffer): Buffer {
  const head = Buffer.concat([lengthDelimited(1, Buffer.from(version)), lengthDelimited(3, Buffer.from(name))]);
  return lengthDelimited(2, Buffer.concat([head, resourceField]));
}

/** A whole DeltaDiscoveryResponse: the stream's own fields, then resources from encodeDeltaResourceField. */
export function encodeDeltaDiscoveryResponse(
  head: { system_version_info: string; type_url: string; nonce: string; removed_resources: readonly string[] },
  resourceFields: readonly Buffer[],
): Buffer {
  return Buffer.concat([serializeDeltaResponse()({ ...head, removed_resources: [...head.removed_resources] }), ...resourceFields]);
}
