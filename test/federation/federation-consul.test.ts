import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { createDiscoveryBackend, type DiscoveryBackend, startFederation } from '../../src/federation/index.ts';
import { type ConsulDatacenters, startConsulDatacenters } from '../support/consul.ts';
import { findTool } from '../support/tools.ts';
import { eventually, exportsOf, makeRootCert, RecordingSink } from './fixtures.ts';
import { type FederationEnv, scenarios } from './scenarios.ts';

const HOST = '127.60.0.1';
let consul: ConsulDatacenters | undefined;

test.before(async () => {
  consul = await startConsulDatacenters({ names: ['east', 'west', 'south'], host: HOST, basePort: 18500 });
});

test.after.always(async () => {
  await consul?.stop();
});

function env(): FederationEnv {
  const dcs = consul?.dcs ?? [];
  return {
    backend: (cluster: string): DiscoveryBackend => {
      const dc = dcs.find((d) => d.name === cluster);
      if (!dc) throw new Error(`no datacenter ${cluster}`);
      return createDiscoveryBackend('consul', { host: dc.host, port: dc.httpPort });
    },
  };
}

for (const scenario of scenarios) {
  test.serial(`consul: ${scenario.title}`, async (t) => {
    await scenario.run(t, env());
  });
}

test.serial('consul: the consul CLI sees the published root and the meshfed instances', async (t) => {
  const east = consul?.dcs.find((d) => d.name === 'east');
  if (!east) throw new Error('no east datacenter');
  const root = makeRootCert('cli check root');
  const backend = env().backend('east');
  const handle = await startFederation({
    cluster: 'east',
    backend,
    rootCertPem: root,
    sink: new RecordingSink(),
    logger: createLogger('federation-test', { cluster: 'east' }),
    tuning: { datacenterPollMs: 200, waitSeconds: 5, sweepIntervalMs: 60_000, retryDelayMs: 100, unreachableAfterFailures: 3 },
  });
  t.teardown(async () => {
    await handle.close();
    await backend.close();
  });
  handle.update(exportsOf('east', '127.61.0.1', ['s7-cli']));
  await eventually('east registers s7-cli', () => handle.status().exports.length === 1);

  const run = promisify(execFile);
  const cli = (...args: string[]) =>
    run(findTool('consul'), args, { env: { ...process.env, CONSUL_HTTP_ADDR: `http://${east.httpAddr}` } });
  const kv = await cli('kv', 'get', '-datacenter', 'east', 'meshfed/trust-bundle/east');
  t.is(kv.stdout.trim(), root.trim());
  // Read from west's agent, across the WAN, as an operator would.
  const services = await run(findTool('consul'), ['catalog', 'services', '-datacenter', 'east', '-tags'], {
    env: { ...process.env, CONSUL_HTTP_ADDR: `http://${consul?.dcs.find((d) => d.name === 'west')?.httpAddr}` },
  });
  t.regex(services.stdout, /^s7-cli\s+meshfed,ns:default$/m);
});
