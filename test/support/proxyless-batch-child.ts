/**
 * Child process of `runProxylessBatch`: one proxyless @grpc/grpc-js-xds client (bootstrap from
 * GRPC_XDS_BOOTSTRAP_CONFIG) making a plan of sequential Echo calls on one channel. argv: <target>
 * <plan as JSON>. Prints one JSON array of results on stdout and exits 0 (failed calls are results,
 * not failures of the child); exits 1 only when the plan cannot run. It exits explicitly because
 * the xDS client's ADS stream keeps the process alive.
 */
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import type { BatchPlan, BatchResult } from './proxyless-batch.ts';
import { ECHO_SERVICE, type EchoMessage } from './proxyless-client.ts';

const [target = '', planText = '{}'] = process.argv.slice(2);
const plan = JSON.parse(planText) as BatchPlan;
grpcXds.register();
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'EchoService');
const client = new EchoClient(`xds:///${target}`, grpc.credentials.createInsecure());
type EchoMethod = (this: grpc.Client, req: EchoMessage, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, reply?: EchoMessage) => void) => void;
const method = (client as unknown as Record<string, unknown>)['Echo'];
if (typeof method !== 'function') {
  process.stderr.write('echo client has no Echo method\n');
  process.exit(1);
}
const echo = method as EchoMethod;

function call(message: string, headers: Record<string, string>, timeoutMs: number): Promise<BatchResult> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  const started = performance.now();
  return new Promise((resolve) => {
    echo.call(client, { message } satisfies EchoMessage, md, { deadline: Date.now() + timeoutMs, waitForReady: true }, (e: grpc.ServiceError | null, reply?: EchoMessage) => {
      const ms = performance.now() - started;
      const workload = typeof reply?.['workload'] === 'string' ? { workload: reply['workload'] } : {};
      resolve(e ? { ok: false, code: e.code, details: e.details, ms } : { ok: true, reply: reply?.message ?? '', ...workload, ms });
    });
  });
}

const results: BatchResult[] = [];
const timeoutMs = plan.callTimeoutMs ?? 10_000;
for (const c of plan.calls ?? []) results.push(await call(c.message, c.headers ?? {}, c.timeoutMs ?? timeoutMs));
const rep = plan.repeat;
if (rep) {
  // Calls until `streak` consecutive replies start with `streakPrefix` (then `after` more), or `max` calls.
  let streak = 0;
  let extra = -1;
  for (let i = 0; i < rep.max && extra !== 0; i++) {
    const r = await call(`${rep.message}-${i}`, rep.headers ?? {}, timeoutMs);
    results.push(r);
    if (extra > 0) extra--;
    else {
      streak = r.ok && r.reply.startsWith(rep.streakPrefix) ? streak + 1 : 0;
      if (streak >= rep.streak) extra = rep.after;
    }
    if (rep.pauseMs > 0) await new Promise((res) => setTimeout(res, rep.pauseMs));
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
process.exit(0);
