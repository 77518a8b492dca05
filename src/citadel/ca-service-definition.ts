import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { loadProtoRoot, serviceDefinition } from '../common/proto-service.ts';

/**
 * The gRPC definition of Istio's certificate service, shared by Citadel's server (ca-service.ts)
 * and the workload-side client (certificate-client.ts). Its own file so that a sidecar, which only
 * requests certificates, does not load the server and its request validation.
 */

/** Fully qualified name of the service, as Istio names it. */
export const CERTIFICATE_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';

const PROTO_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), 'ca-service.proto');

let definitionCache: grpc.ServiceDefinition | undefined;

/** Loads ca-service.proto (next to this file) on the first call; later calls return the same definition. */
export function certificateServiceDefinition(): grpc.ServiceDefinition {
  if (definitionCache) return definitionCache;
  const root = loadProtoRoot([PROTO_PATH], { includeDirs: [], keepCase: true });
  definitionCache = serviceDefinition(root, CERTIFICATE_SERVICE_NAME, { longs: String, enums: String, defaults: true, oneofs: true });
  return definitionCache;
}
