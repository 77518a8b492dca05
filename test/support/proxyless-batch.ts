import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One planned Echo call; `headers` become gRPC metadata. */
export interface BatchCall {
  message: string;
  headers?: Record<string, string>;
  /** This call's deadline; default the plan's `callTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * What a proxyless batch child does, in order: `calls`, then `repeat` (calls `message-<i>` until
 * `streak` replies in a row start with `streakPrefix`, then `after` more calls; at most `max`
 * calls, `pauseMs` apart).
 */
export interface BatchPlan {
  calls?: BatchCall[];
  repeat?: { message: string; headers?: Record<string, string>; max: number; streak: number; streakPrefix: string; after: number; pauseMs: number };
  /** Deadline of each call; default 10 s. */
  callTimeoutMs?: number;
}

/**
 * One call's outcome: the reply's message (and `workload` when the backend is meshfed's echo app),
 * or the gRPC status code; `ms` as the client saw it.
 */
export type BatchResult = { ok: true; reply: string; workload?: string; ms: number } | { ok: false; code: number; details: string; ms: number };

/**
 * Runs `plan` in one proxyless @grpc/grpc-js-xds client process against the ADS server
 * `xdsServer` (plaintext), calling `xds:///<target>`, and resolves with every call's result. The
 * node is a proxyless one (GENERATOR=grpc) of cluster `east`, namespace `default`. Rejects with
 * the child's stderr when the child fails; the child is killed by PID after `timeoutMs`.
 */
export function runProxylessBatch(opts: { xdsServer: string; target: string; plan: BatchPlan; timeoutMs: number }): Promise<BatchResult[]> {
  const bootstrap = {
    xds_servers: [{ server_uri: opts.xdsServer, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: {
      id: 'sidecar~127.69.0.1~proxyless-batch.default~default.svc.cluster.local',
      cluster: 'east',
      locality: {},
      metadata: { GENERATOR: 'grpc', CLUSTER_ID: 'east', NAMESPACE: 'default', WORKLOAD_NAME: 'proxyless-batch' },
    },
  };
  const script = fileURLToPath(new URL('./proxyless-batch-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, opts.target, JSON.stringify(opts.plan)], {
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
    }, opts.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`proxyless batch child exited with ${code ?? signal}: ${err.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim()) as BatchResult[]);
      } catch {
        reject(new Error(`proxyless batch child printed no results: ${out.slice(0, 200)} ${err.trim()}`));
      }
    });
  });
}
