import * as grpc from '@grpc/grpc-js';
import type { EchoIdentity } from './echo-http.ts';

/**
 * A gRPC echo service without a .proto: method `/meshfed.echo.Echo/Echo`, messages are JSON in
 * UTF-8: request `{ message }`, reply `{ cluster, namespace, workload, service, version, message }`.
 * Used by `app: echo` when the service protocol is `grpc`, and by proxyless clients.
 */
const json = {
  serialize: (v: unknown): Buffer => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer): unknown => JSON.parse(b.toString('utf8')),
};

export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/meshfed.echo.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};


export async function startEchoGrpc(identity: EchoIdentity, host: string, port: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const req = call.request;
      const message = typeof req === 'object' && req !== null ? (req as Record<string, unknown>)['message'] : undefined;
      callback(null, { ...identity, message: typeof message === 'string' ? message : '' });
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
