import test from 'ava';
import { createLogger } from '../../src/common/log.ts';
import { Registry } from '../../src/common/prom.ts';
import { createDiscoveryBackend, type FederationHandle, startFederation } from '../../src/federation/index.ts';
import { type ConsulDatacenters, startConsulDatacenters } from '../support/consul.ts';
import { EventLog, eventually, exportsOf, makeRootCert, RecordingSink } from './fixtures.ts';

// Its own datacenters: this file kills one of them.
const HOST = '127.60.0.2';
let consul: ConsulDatacenters | undefined;

test.before(async () => {
  consul = await startConsulDatacenters({ names: ['east', 'west'], host: HOST, basePort: 18600 });
});

test.after.always(async () => {
  await consul?.stop();
});

test('consul: a datacenter that dies is reported unreachable and its last imports are kept', async (t) => {
  if (!consul) throw new Error('consul did not start');
  const root = makeRootCert('partition test root');
  const tuning = { datacenterPollMs: 200, waitSeconds: 2, sweepIntervalMs: 60_000, retryDelayMs: 100, unreachableAfterFailures: 3 };
  const started: { handle: FederationHandle; close: () => Promise<void> }[] = [];
  t.teardown(async () => {
    for (const s of started) await s.close();
  });
  const westMetrics = new Registry();
  const startCluster = async (name: 'east' | 'west', sink: RecordingSink, events: EventLog, metrics?: Registry) => {
    const dc = consul?.dcs.find((d) => d.name === name);
    if (!dc) throw new Error(`no datacenter ${name}`);
    const backend = createDiscoveryBackend('consul', { host: dc.host, port: dc.httpPort, requestTimeoutMs: 2000 });
    const handle = await startFederation({
      cluster: name,
      backend,
      rootCertPem: root,
      sink,
      logger: createLogger('federation-test', { cluster: name }),
      onEvent: events.push,
      tuning,
      ...(metrics ? { metrics } : {}),
    });
    started.push({ handle, close: () => handle.close().then(() => backend.close()) });
    return handle;
  };

  const east = await startCluster('east', new RecordingSink(), new EventLog());
  const westSink = new RecordingSink();
  const westEvents = new EventLog();
  const west = await startCluster('west', westSink, westEvents, westMetrics);
  east.update(exportsOf('east', '127.61.0.1', ['p-reviews']));
  await eventually('west imports p-reviews', () => westSink.summary('east').length === 2);

  await east.close({ deregister: false });
  await consul.killDatacenter('east');
  await eventually('west reports east unreachable', () => westEvents.has({ type: 'ClusterUnreachable', cluster: 'east' }));
  t.deepEqual(westSink.summary('east'), ['p-reviews/p-reviews-v1:9080', 'p-reviews/p-reviews-v2:9080']);
  t.false(westSink.calls.includes('remove east'), 'a partition is not a withdrawal');
  t.false(westEvents.has({ type: 'ServiceWithdrawn', cluster: 'east' }));

  // The staleness metric says how old the kept imports are: it only grows while east is gone.
  const gauge = async (name: string): Promise<number | undefined> => {
    const line = (await westMetrics.metrics()).split('\n').find((l) => l.startsWith(`${name}{source_cluster="east"} `));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };
  t.is(await gauge('meshfed_federation_imported_endpoints'), 2, 'the kept imports are counted');
  const first = (await gauge('meshfed_federation_import_staleness_seconds')) ?? Number.NaN;
  t.true(first > 0);
  await eventually('staleness keeps growing with east gone', async () => ((await gauge('meshfed_federation_import_staleness_seconds')) ?? 0) >= first + 1);
  t.is(west.status().stalenessSeconds['east'] !== undefined, true);
});
