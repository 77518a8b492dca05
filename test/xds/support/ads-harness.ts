import * as grpc from '@grpc/grpc-js';
import type { ExecutionContext } from 'ava';
import { pino } from 'pino';
import { AdsServer } from '../../../src/pilot/ads/index.ts';
import { TestGenerator, type TestSnapshot, basicMesh } from './fixtures.ts';

export const silent = pino({ level: 'silent' });

/** A real AdsServer on a real grpc.Server (127.0.0.1, insecure), closed by `stop()`. */
export interface RunningAds {
  gen: TestGenerator;
  ads: AdsServer<TestSnapshot>;
  port: number;
  target: string;
  stop(): void;
}

export async function runAds(t: ExecutionContext, opts: { port?: number; gen?: TestGenerator } = {}): Promise<RunningAds> {
  const gen = opts.gen ?? new TestGenerator();
  if (!opts.gen) basicMesh(gen);
  const ads = new AdsServer({ generate: gen.generate, snapshot: gen.snapshot(), logger: silent });
  const server = new grpc.Server();
  ads.addTo(server);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    ads.close();
    server.forceShutdown();
  };
  t.teardown(stop);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { gen, ads, port, target: `127.0.0.1:${port}`, stop };
}

/** Polls `cond` until true; throws after `timeoutMs` (a safety net, not an assertion on speed). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
