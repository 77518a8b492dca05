import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { ECHO_SERVICE } from '../../src/cli/apps/echo-grpc.ts';

/**
 * A proto-free echo service for proxyless gRPC tests: unary `Echo`, JSON over the wire, the same
 * method and messages as meshfed's built-in gRPC echo app (src/cli/apps/echo-grpc.ts).
 * Request `{ message }`, reply `{ message, ... }` (prefixed with the server's name when it has one);
 * the built-in app adds its identity (cluster, namespace, workload, …) to the reply.
 */
export interface EchoMessage {
  message: string;
  [k: string]: unknown;
}

export { ECHO_SERVICE };

/** Starts a plain gRPC echo backend on `host:0`. */
export async function startEchoServer(opts: { host?: string; name?: string } = {}): Promise<{ port: number; close(): void }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<unknown, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) => {
      const req = call.request as Partial<EchoMessage> | null;
      const message = typeof req?.message === 'string' ? req.message : '';
      cb(null, { message: opts.name ? `${opts.name}: ${message}` : message });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host ?? '127.0.0.1'}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, close: () => server.forceShutdown() };
}

export interface ProxylessCallOptions {
  /** `host:port` of the ADS server (plaintext). */
  xdsServer: string;
  /** Authority to resolve: the call goes to `xds:///<target>`. */
  target: string;
  /** Echo request message. */
  request: string;
  timeoutMs: number;
  /** Node identity of the proxyless client (GENERATOR=grpc is always set). */
  node?: { id?: string; cluster?: string; namespace?: string; workload?: string };
}

/**
 * Makes one Echo call through a proxyless `@grpc/grpc-js-xds` client in a child process (the
 * library reads its bootstrap once per process and its ADS stream keeps the process alive) and
 * resolves with the whole reply as JSON text. Rejects with the child's stderr if the call fails. The child is
 * killed by PID if it has not exited within `timeoutMs` (+2 s of process start-up).
 */
export function runProxylessCall(opts: ProxylessCallOptions): Promise<string> {
  const cluster = opts.node?.cluster ?? 'east';
  const namespace = opts.node?.namespace ?? 'default';
  const workload = opts.node?.workload ?? 'proxyless-client';
  const bootstrap = {
    xds_servers: [{ server_uri: opts.xdsServer, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: opts.node?.id ?? `sidecar~127.0.0.1~${workload}.${namespace}~${namespace}.svc.cluster.local`,
      cluster,
      locality: {},
      metadata: { GENERATOR: 'grpc', CLUSTER_ID: cluster, NAMESPACE: namespace, WORKLOAD_NAME: workload },
    },
  };
  const script = fileURLToPath(new URL('./proxyless-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, opts.target, opts.request, String(opts.timeoutMs)], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, opts.timeoutMs + 2000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`proxyless child exited with ${code ?? signal}: ${err.trim()}`));
    });
  });
}
