import test from 'ava';
import {
  createDiscoveryBackend,
  type DiscoveryBackend,
  type MemoryDiscoveryServer,
  startMemoryDiscoveryServer,
} from '../../src/federation/index.ts';
import { scenarios } from './scenarios.ts';

/** A fresh memory discovery server per test, on this file's loopback address. */
async function memoryEnv(t: import('ava').ExecutionContext) {
  const server: MemoryDiscoveryServer = await startMemoryDiscoveryServer({ host: '127.60.1.1', port: 0 });
  t.teardown(() => server.close());
  return {
    backend: (cluster: string): DiscoveryBackend =>
      createDiscoveryBackend('memory', { url: server.url, datacenter: cluster }),
  };
}

for (const scenario of scenarios) {
  test(`memory: ${scenario.title}`, async (t) => {
    await scenario.run(t, await memoryEnv(t));
  });
}
