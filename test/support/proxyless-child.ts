/**
 * Child process of `runProxylessCall`: a proxyless gRPC client on @grpc/grpc-js-xds. Bootstrap comes
 * from GRPC_XDS_BOOTSTRAP_CONFIG. argv: <target> <request message> <timeoutMs>. Prints the reply
 * as JSON on stdout and exits 0; on failure prints the error on stderr and exits 1. It exits
 * explicitly because the xDS client's ADS stream keeps the process alive.
 */
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { ECHO_SERVICE, type EchoMessage } from './proxyless-client.ts';

const [target = '', message = '', timeoutArg = '10000'] = process.argv.slice(2);
grpcXds.register();
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'EchoService');
const client = new EchoClient(`xds:///${target}`, grpc.credentials.createInsecure());
const deadline = Date.now() + Number(timeoutArg);
const echo = (client as unknown as Record<string, unknown>)['Echo'];
if (typeof echo !== 'function') {
  process.stderr.write('echo client has no Echo method\n');
  process.exit(1);
}
echo.call(client, { message } satisfies EchoMessage, { deadline, waitForReady: true }, (e: grpc.ServiceError | null, reply?: EchoMessage) => {
  if (e) {
    process.stderr.write(`${e.code} ${e.details}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(reply ?? {})}\n`);
  process.exit(0);
});
