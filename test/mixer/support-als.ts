import type * as grpc from '@grpc/grpc-js';
import { serviceClient } from '../../src/xds/protos.ts';

/**
 * One Envoy ALS stream (StreamAccessLogs) to Mixer at `target`: writes `messages`, ends, and
 * resolves with the call's status (null when Mixer accepted the stream). `serverName` is the name
 * Mixer's serving certificate is checked against.
 */
export function streamAccessLogs(
  target: string,
  creds: grpc.ChannelCredentials,
  serverName: string,
  messages: readonly Record<string, unknown>[],
): Promise<grpc.ServiceError | null> {
  const Ctor = serviceClient('envoy.service.accesslog.v3.AccessLogService');
  const client = new Ctor(target, creds, { 'grpc.ssl_target_name_override': serverName });
  return new Promise((resolve) => {
    const method = (client as unknown as Record<string, (cb: (e: grpc.ServiceError | null) => void) => grpc.ClientWritableStream<unknown>>)['StreamAccessLogs'];
    const stream = method!.call(client, (e) => {
      client.close();
      resolve(e);
    });
    stream.on('error', () => {});
    for (const m of messages) stream.write(m);
    stream.end();
  });
}
