import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * Turns `.proto` files into one gRPC service definition with protobufjs alone.
 *
 * `@grpc/proto-loader` builds, for every message type of every loaded file, a DescriptorProto
 * object plus the encoded descriptor set of all files (for reflection, which meshfed does not
 * serve); for Envoy's xDS files that is several MB per process that nothing reads. Here a process
 * keeps only the protobufjs Root it loaded and the codecs of the one service it asked for. The
 * wire format and the decoded shapes are proto-loader's: callers pass the same conversion options
 * (`json: true` expands `google.protobuf.Any` into `{ '@type', ...fields }` and packs it back).
 */

/** How a service's messages are parsed and converted; the subset of proto-loader's options meshfed uses. */
export interface ProtoServiceOptions {
  /** Folders that imports are resolved against, in order. */
  includeDirs: readonly string[];
  /** Field names as written in the .proto (proto-loader `keepCase`). */
  keepCase: boolean;
  /** How decoded messages look (protobufjs `toObject` options, as proto-loader passes them). */
  conversion: protobuf.IConversionOptions;
}

const require = createRequire(import.meta.url);
let descriptorRegistered = false;

/**
 * `google/protobuf/descriptor.proto` is imported by every file that declares custom options
 * (validate, udpa annotations); protobufjs ships it as JSON but does not register it.
 */
function registerDescriptorProto(): void {
  if (descriptorRegistered) return;
  const json: unknown = require('protobufjs/google/protobuf/descriptor.json');
  const nested = (json as { nested: { google: { nested: { protobuf: { nested: protobuf.INamespace['nested'] } } } } }).nested.google.nested.protobuf.nested;
  if (nested) protobuf.common('descriptor', nested);
  descriptorRegistered = true;
}

/** Loads `files` (and everything they import) into a fresh, fully resolved Root. Throws when a file is missing. */
export function loadProtoRoot(files: readonly string[], opts: Pick<ProtoServiceOptions, 'includeDirs' | 'keepCase'>): protobuf.Root {
  registerDescriptorProto();
  const root = new protobuf.Root();
  const fallback = root.resolvePath.bind(root);
  root.resolvePath = (origin, target) => {
    if (path.isAbsolute(target)) return target;
    for (const dir of opts.includeDirs) {
      const full = path.join(dir, target);
      try {
        accessSync(full, constants.R_OK);
        return full;
      } catch {
        // Not in this folder; try the next.
      }
    }
    return fallback(origin, target);
  };
  root.loadSync([...files], { keepCase: opts.keepCase });
  root.resolveAll();
  return root;
}

function serializer(type: protobuf.Type): (value: unknown) => Buffer {
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError(`cannot serialize ${type.fullName}: expected an object`);
    }
    return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
  };
}

function deserializer(type: protobuf.Type, conversion: protobuf.IConversionOptions): (bytes: Buffer) => unknown {
  return (bytes) => type.toObject(type.decode(bytes), conversion);
}

/**
 * The gRPC definition of `serviceName` (fully qualified) in `root`: one entry per method, keyed by
 * the method's name as written in the .proto, as `grpc.loadPackageDefinition` keys them. Throws
 * when the service is not in `root` (a programmer error: the wrong files were loaded).
 */
export function serviceDefinition(
  root: protobuf.Root,
  serviceName: string,
  conversion: protobuf.IConversionOptions,
): grpc.ServiceDefinition {
  const service = root.lookupService(serviceName);
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of service.methodsArray) {
    const req = m.resolvedRequestType;
    const res = m.resolvedResponseType;
    if (!req || !res) throw new Error(`${serviceName}.${m.name}: unresolved message types`);
    def[m.name] = {
      path: `/${serviceName}/${m.name}`,
      requestStream: m.requestStream === true,
      responseStream: m.responseStream === true,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req, conversion),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res, conversion),
      originalName: m.name.charAt(0).toLowerCase() + m.name.slice(1),
    };
  }
  return def;
}
