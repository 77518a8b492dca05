import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { CONVERSION, serviceClient, serviceRoot } from './protos.ts';

/**
 * The client side of a DiscoveryResponse, decoded in two steps, the way Envoy's xDS client
 * compares resources before decoding them: the response itself is decoded down to its `Any`s
 * (type URL and still-encoded bytes), and each resource is expanded to proto-loader's JSON shape
 * (`{ '@type', ...fields }`, the conversion of protos.ts) only when its receiver asks, so one whose
 * bytes equal the previously accepted version is never decoded again.
 */

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** One resource of a response, as it came on the wire. */
export interface RawResource {
  /** `Any.type_url`. */
  readonly typeUrl: string;
  /** `Any.value`: the resource's encoded bytes (a view into the response). */
  readonly value: Buffer;
  /**
   * Field 1 of the encoded resource as a string (the last occurrence, as protobuf reads it): the
   * `name` of a Listener, RouteConfiguration and Cluster, the `cluster_name` of a
   * ClusterLoadAssignment. Undefined when absent or not a length-delimited field.
   */
  readonly key: string | undefined;
  /** Delta xDS: `Resource.version` (undefined in state-of-the-world responses). */
  readonly version?: string;
  /** The resource in proto-loader's JSON shape, exactly what decoding the whole response gave. */
  decode(): unknown;
}

/** A DiscoveryResponse with its resources left encoded. */
export interface RawDiscoveryResponse {
  readonly versionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly RawResource[];
}

/** A DeltaDiscoveryResponse with its resources left encoded; `key` is each `Resource.name`. */
export interface RawDeltaDiscoveryResponse {
  readonly systemVersionInfo: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly RawResource[];
  readonly removedResources: readonly string[];
}

interface Codecs {
  response: protobuf.Type;
  deltaResponse: protobuf.Type;
  any: protobuf.Type;
}

let codecs: Codecs | undefined;

function loadCodecs(): Codecs {
  if (!codecs) {
    const root = serviceRoot(ADS);
    codecs = {
      response: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
      deltaResponse: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
      any: root.lookupType('google.protobuf.Any'),
    };
  }
  return codecs;
}

const WIRE_LENGTH_DELIMITED = 2;

/** Field 1 of `bytes` read as a string, or undefined; throws on bytes that are not a message. */
function fieldOneString(bytes: Buffer): string | undefined {
  const r = protobuf.Reader.create(bytes);
  let out: string | undefined;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === WIRE_LENGTH_DELIMITED) out = r.string();
    else r.skipType(tag & 7);
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** One decoded (still encoded inside) `Any` as a RawResource; `key` and `version` as given, else field 1. */
function rawResource(a: protobuf.Message | undefined, name?: string, version?: string): RawResource {
  const { any } = loadCodecs();
  const fields = (a ?? {}) as unknown as Record<string, unknown>;
  const v = fields['value'];
  // protobufjs reads bytes as Buffer views under Node; anything else is wrapped without a copy.
  const value = Buffer.isBuffer(v) ? v : v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.alloc(0);
  let key: string | undefined = name;
  if (key === undefined) {
    try {
      key = fieldOneString(value);
    } catch {
      key = undefined;
    }
  }
  const out = {
    typeUrl: str(fields['type_url']),
    value,
    key,
    decode: (): unknown => {
      if (!a) throw new Error('the Resource carries no resource');
      return any.toObject(a, CONVERSION);
    },
  };
  return version === undefined ? out : { ...out, version };
}

/** Decodes a DiscoveryResponse, leaving each resource encoded. Throws on malformed bytes. */
export function decodeRawDiscoveryResponse(bytes: Buffer): RawDiscoveryResponse {
  const { response } = loadCodecs();
  const msg = response.decode(bytes) as unknown as Record<string, unknown>;
  const anys = Array.isArray(msg['resources']) ? (msg['resources'] as protobuf.Message[]) : [];
  const resources = anys.map((a) => rawResource(a));
  return { versionInfo: str(msg['version_info']), typeUrl: str(msg['type_url']), nonce: str(msg['nonce']), resources };
}

/** Decodes a DeltaDiscoveryResponse, leaving each resource encoded. Throws on malformed bytes. */
export function decodeRawDeltaDiscoveryResponse(bytes: Buffer): RawDeltaDiscoveryResponse {
  const { deltaResponse } = loadCodecs();
  const msg = deltaResponse.decode(bytes) as unknown as Record<string, unknown>;
  const list = Array.isArray(msg['resources']) ? (msg['resources'] as Record<string, unknown>[]) : [];
  const resources = list.map((r) => {
    const inner = r['resource'];
    return rawResource(typeof inner === 'object' && inner !== null ? (inner as protobuf.Message) : undefined, str(r['name']), str(r['version']));
  });
  const removed = Array.isArray(msg['removed_resources']) ? (msg['removed_resources'] as unknown[]).filter((n): n is string => typeof n === 'string') : [];
  return { systemVersionInfo: str(msg['system_version_info']), typeUrl: str(msg['type_url']), nonce: str(msg['nonce']), resources, removedResources: removed };
}

const RAW_DESERIALIZERS: Readonly<Record<string, (bytes: Buffer) => unknown>> = {
  StreamAggregatedResources: decodeRawDiscoveryResponse,
  DeltaAggregatedResources: decodeRawDeltaDiscoveryResponse,
};

/**
 * A client constructor of the ADS service whose StreamAggregatedResources yields
 * RawDiscoveryResponse objects and DeltaAggregatedResources RawDeltaDiscoveryResponse objects;
 * requests are encoded as by `serviceClient`.
 */
export function rawAdsClientConstructor(): grpc.ServiceClientConstructor {
  const service = serviceClient(ADS).service;
  const methods = Object.entries(service).map(([name, method]) => {
    const responseDeserialize = RAW_DESERIALIZERS[name];
    return responseDeserialize ? ([name, { ...method, responseDeserialize }] as const) : ([name, method] as const);
  });
  return grpc.makeGenericClientConstructor(Object.fromEntries(methods) as grpc.ServiceDefinition, ADS);
}

/** An encoded message split around one repeated length-delimited field. */
export interface SplitMessage {
  /** The payload of each occurrence of the field, in order. */
  readonly parts: readonly Buffer[];
  /** Every other field, as encoded, in order. */
  readonly rest: Buffer;
}

/** Splits `bytes` (an encoded message) into the occurrences of field `field` and the rest. Throws on malformed bytes. */
export function splitRepeatedField(bytes: Buffer, field: number): SplitMessage {
  const r = protobuf.Reader.create(bytes);
  const parts: Buffer[] = [];
  const rest: Buffer[] = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    if (tag >>> 3 === field && (tag & 7) === WIRE_LENGTH_DELIMITED) {
      const len = r.uint32();
      parts.push(bytes.subarray(r.pos, r.pos + len));
      r.skip(len);
    } else {
      r.skipType(tag & 7);
      rest.push(bytes.subarray(start, r.pos));
    }
  }
  return { parts, rest: Buffer.concat(rest) };
}

/** Field 1 of an encoded message as a string (see RawResource.key); undefined when absent or malformed. */
export function messageKey(bytes: Buffer): string | undefined {
  try {
    return fieldOneString(bytes);
  } catch {
    return undefined;
  }
}

/** Decodes one message of `typeName` (fully qualified) to proto-loader's JSON shape. Throws on malformed bytes. */
export function decodeMessage(typeName: string, bytes: Buffer): unknown {
  const type = serviceRoot(ADS).lookupType(typeName);
  return type.toObject(type.decode(bytes), CONVERSION);
}
