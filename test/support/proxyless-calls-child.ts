/**
 * Child process for proxyless load-balancing tests: a @grpc/grpc-js-xds client (bootstrap from
 * GRPC_XDS_BOOTSTRAP_CONFIG) that makes <count> sequential Echo calls on one channel and prints
 * one line of JSON: the `message` of each reply, or `error <code>` for a failed call. argv:
 * <target> <count> <timeoutMs per call>. Exits explicitly: the ADS stream keeps the process alive.
 */
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { ECHO_SERVICE, type EchoMessage } from './proxyless-client.ts';

const [target = '', countArg = '1', timeoutArg = '10000'] = process.argv.slice(2);
grpcXds.register();
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'EchoService');
const client = new EchoClient(`xds:///${target}`, grpc.credentials.createInsecure());
const echo = (client as unknown as Record<string, unknown>)['Echo'];
if (typeof echo !== 'function') {
  process.stderr.write('echo client has no Echo method\n');
  process.exit(1);
}

function call(): Promise<string> {
  return new Promise((resolve) => {
    const deadline = Date.now() + Number(timeoutArg);
    (echo as (...a: unknown[]) => void).call(client, { message: '' } satisfies EchoMessage, { deadline, waitForReady: true }, (e: grpc.ServiceError | null, reply?: EchoMessage) => {
      resolve(e ? `error ${e.code}` : String(reply?.message ?? ''));
    });
  });
}

const replies: string[] = [];
for (let i = 0; i < Number(countArg); i++) replies.push(await call());
process.stdout.write(`${JSON.stringify(replies)}\n`);
process.exit(0);
