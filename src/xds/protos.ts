import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads Envoy's xDS v3 protos from the `deps/` folder that ships inside `@grpc/grpc-js-xds`
 * (never copied into this repo). One load per process; every caller shares the definition.
 *
 * Resources travel as `google.protobuf.Any`. With `json: true` proto-loader expands an `Any` into
 * `{ '@type': 'type.googleapis.com/<full.name>', ...fields }` on decode and packs it back on encode,
 * nested `Any`s included, as long as the message type is loaded here.
 */
const require = createRequire(import.meta.url);
const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const XDS_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
  path.join(depsDir, d),
);

const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/accesslog/v3/als.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
];

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  json: true,
  includeDirs: XDS_INCLUDE_DIRS,
};

let cached: grpc.GrpcObject | undefined;

/** The loaded gRPC package tree (services and message types) for xDS and ALS. */
export function xdsPackage(): grpc.GrpcObject {
  if (!cached) {
    const def = protoLoader.loadSync(PROTO_FILES, PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(def);
  }
  return cached;
}

function lookup(dotted: string): unknown {
  let node: unknown = xdsPackage();
  for (const part of dotted.split('.')) {
    if (typeof node !== 'object' && typeof node !== 'function') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** A loaded gRPC service constructor, e.g. `envoy.service.discovery.v3.AggregatedDiscoveryService`. */
export function serviceClient(dotted: string): grpc.ServiceClientConstructor {
  const ctor = lookup(dotted);
  if (typeof ctor !== 'function' || !('service' in ctor)) {
    throw new Error(`xDS service ${dotted} is not loaded`);
  }
  return ctor as grpc.ServiceClientConstructor;
}
