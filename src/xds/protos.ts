import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtoRoot, serviceDefinition } from '../common/proto-service.ts';

/**
 * Envoy's gRPC services, loaded from the `deps/` folder that ships inside `@grpc/grpc-js-xds`
 * (never copied into this repo). Each service has its own loader, run on the first call that
 * names it, so a process loads only the protos of the services it uses: a sidecar ADS and ALS,
 * a gateway ADS, Mixer only ALS, echo and Citadel none.
 *
 * Resources travel as `google.protobuf.Any`. Decoding uses `json: true`, which expands an `Any`
 * into `{ '@type': 'type.googleapis.com/<full.name>', ...fields }` and packs it back on encode,
 * nested `Any`s included, as long as the message type is in the service's file list.
 */
const require = createRequire(import.meta.url);
const depsDir = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const XDS_INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
  path.join(depsDir, d),
);

/** Decoded shape shared by every Envoy service here (proto-loader's options of the same names). */
export const CONVERSION = { longs: String, enums: String, defaults: false, oneofs: true, json: true } as const;

/**
 * Per service: the files to load. ADS carries every resource type Pilot sends (and the typed
 * configs nested in them), since `json: true` can only expand an `Any` whose type is loaded.
 */
const SERVICE_FILES: Readonly<Record<string, readonly string[]>> = {
  'envoy.service.discovery.v3.AggregatedDiscoveryService': [
    'envoy/service/discovery/v3/ads.proto',
    'envoy/config/listener/v3/listener.proto',
    'envoy/config/route/v3/route.proto',
    'envoy/config/cluster/v3/cluster.proto',
    'envoy/config/endpoint/v3/endpoint.proto',
    'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
    'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
    'envoy/extensions/filters/http/router/v3/router.proto',
    'envoy/extensions/filters/http/fault/v3/fault.proto',
    'envoy/extensions/filters/http/cors/v3/cors.proto',
    'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
    'envoy/extensions/filters/http/rbac/v3/rbac.proto',
    'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
    'envoy/extensions/filters/network/rbac/v3/rbac.proto',
    'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
    'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
    'envoy/extensions/transport_sockets/tls/v3/tls.proto',
    'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
    'envoy/extensions/network/dns_resolver/cares/v3/cares_dns_resolver.proto',
    'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  ],
  'envoy.service.accesslog.v3.AccessLogService': ['envoy/service/accesslog/v3/als.proto'],
};

const loaded = new Map<string, grpc.ServiceClientConstructor>();
const roots = new Map<string, protobuf.Root>();

/**
 * A gRPC client constructor (its `.service` is the definition a server adds) for one of the
 * services above, e.g. `envoy.service.discovery.v3.AggregatedDiscoveryService`. Loads that
 * service's protos on the first call; later calls return the same constructor. Throws for a
 * service not listed here (a programmer error).
 */
export function serviceClient(dotted: string): grpc.ServiceClientConstructor {
  const hit = loaded.get(dotted);
  if (hit) return hit;
  const files = SERVICE_FILES[dotted];
  if (!files) throw new Error(`xDS service ${dotted} is not known to meshfed`);
  const root = loadProtoRoot(files, { includeDirs: XDS_INCLUDE_DIRS, keepCase: true });
  roots.set(dotted, root);
  const ctor = grpc.makeGenericClientConstructor(serviceDefinition(root, dotted, CONVERSION), dotted);
  loaded.set(dotted, ctor);
  return ctor;
}

/**
 * The protobufjs Root that `serviceClient(dotted)` loaded (loading it on the first call), for
 * codecs that work below the service definition (src/xds/discovery-response-raw.ts).
 */
export function serviceRoot(dotted: string): protobuf.Root {
  serviceClient(dotted);
  const root = roots.get(dotted);
  if (!root) throw new Error(`xDS service ${dotted} has no loaded root`);
  return root;
}
