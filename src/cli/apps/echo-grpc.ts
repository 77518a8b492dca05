import * as grpc from '@grpc/grpc-js';
import type { EchoIdentity } from './echo-http.ts';

/**
 * A gRPC echo service without a .proto; messages are JSON in UTF-8. Used by `app: echo` when the
 * service protocol is `grpc`, and by proxyless clients.
 * - `/meshfed.echo.Echo/Echo` (unary): request `{ message, status?, details?, delayMs? }`, reply
 *   `{ cluster, namespace, workload, service, version, message }`. With `status` (a gRPC code other
 *   than 0) the call ends with that status and `details` instead, so tests can produce errors on
 *   purpose; `delayMs` (at most a minute) holds the reply back.
 * - `/meshfed.echo.Echo/EchoStream` (server streaming): request `{ message, count?, status?,
 *   details? }`; `count` replies (default 3, at most 1000) with `seq` 0…count-1, then `status` (or OK).
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
  EchoStream: {
    path: '/meshfed.echo.Echo/EchoStream',
    requestStream: false,
    responseStream: true,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

/** What the echo service reads from a request (anything else is ignored; it is a test app). */
interface EchoRequest {
  message: string;
  status: number;
  details: string;
  delayMs: number;
  count: number;
}

function readRequest(req: unknown): EchoRequest {
  const r = typeof req === 'object' && req !== null ? (req as Record<string, unknown>) : {};
  const int = (v: unknown, dflt: number, max: number): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : dflt);
  return {
    message: typeof r['message'] === 'string' ? r['message'] : '',
    status: int(r['status'], 0, 16),
    details: typeof r['details'] === 'string' ? r['details'] : '',
    delayMs: int(r['delayMs'], 0, 60_000),
    count: int(r['count'], 3, 1000),
  };
}

export async function startEchoGrpc(identity: EchoIdentity, host: string, port: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const r = readRequest(call.request);
      const reply = (): void => {
        if (call.cancelled) return;
        if (r.status !== 0) callback({ code: r.status, details: r.details });
        else callback(null, { ...identity, message: r.message });
      };
      if (r.delayMs > 0) setTimeout(reply, r.delayMs);
      else reply();
    },
    EchoStream: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      const r = readRequest(call.request);
      for (let seq = 0; seq < r.count && !call.cancelled; seq++) call.write({ ...identity, message: r.message, seq });
      if (r.status !== 0) call.emit('error', { code: r.status, details: r.details });
      else call.end();
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return server;
}
