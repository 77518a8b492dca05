/**
 * Federation controller scenarios, shared by every discovery backend: each backend's test file
 * provides a FederationEnv (three datacenters east, west and south) and runs the whole table.
 * Each scenario uses its own service names so that, on a shared Consul, scenarios never see each
 * other's instances.
 */
import type { ExecutionContext } from 'ava';
import {
  type DiscoveryBackend,
  type FederationHandle,
  fromHealthEntries,
  startFederation,
  toRegistrations,
} from '../../src/federation/index.ts';
import { createLogger } from '../../src/common/log.ts';
import { endpointIdOf } from '../../src/xds/naming.ts';
import { EventLog, eventually, exportsOf, makeRootCert, RecordingSink, withFaults } from './fixtures.ts';

/** What a backend's test file provides. */
export interface FederationEnv {
  /** A new backend client speaking for `cluster`'s datacenter (east, west or south). */
  backend(cluster: string): DiscoveryBackend;
}

export interface Scenario {
  title: string;
  run(t: ExecutionContext, env: FederationEnv): Promise<void>;
}

const meshRoot = makeRootCert('meshfed test root');
const rogueRoot = makeRootCert('some other mesh');
const nextRoot = makeRootCert('meshfed next root');
const GATEWAY = { east: '127.61.0.1', west: '127.61.0.2', south: '127.61.0.3' } as const;

interface Started {
  handle: FederationHandle;
  backend: DiscoveryBackend;
  sink: RecordingSink;
  events: EventLog;
}

/** Starts a controller for `cluster`; the test's teardown closes it, then its backend. */
async function start(
  t: ExecutionContext,
  env: FederationEnv,
  cluster: 'east' | 'west' | 'south',
  opts: { root?: string; ttlSeconds?: number; backend?: DiscoveryBackend; sweepIntervalMs?: number } = {},
): Promise<Started> {
  const backend = opts.backend ?? env.backend(cluster);
  const sink = new RecordingSink();
  const events = new EventLog();
  const handle = await startFederation({
    cluster,
    backend,
    rootCertPem: opts.root ?? meshRoot,
    sink,
    ttlSeconds: opts.ttlSeconds ?? 15,
    logger: createLogger('federation-test', { cluster }),
    onEvent: events.push,
    tuning: {
      datacenterPollMs: 200,
      waitSeconds: 2,
      sweepIntervalMs: opts.sweepIntervalMs ?? 60_000,
      retryDelayMs: 100,
      unreachableAfterFailures: 3,
    },
  });
  t.teardown(async () => {
    await handle.close();
    await backend.close();
  });
  return { handle, backend, sink, events };
}

/** Workload:port pairs of `service` in a sink's shard of `cluster`. */
function imported(sink: RecordingSink, cluster: string, service: string): string[] {
  return sink.summary(cluster).filter((s) => s.startsWith(`${service}/`));
}

export const scenarios: Scenario[] = [
  {
    title: 'an export in east is imported in west, through the gateway, with its labels',
    async run(t, env) {
      const east = await start(t, env, 'east');
      const west = await start(t, env, 'west');
      east.handle.update(exportsOf('east', GATEWAY.east, ['s1-reviews']));
      await eventually('west imports s1-reviews', () => imported(west.sink, 'east', 's1-reviews').length === 2);
      const endpoint = west.sink.shards.get('east')?.find((e) => e.workload === 's1-reviews-v2');
      t.deepEqual(endpoint, {
        cluster: 'east',
        namespace: 'default',
        service: 's1-reviews',
        hostname: 's1-reviews.default.svc.cluster.local',
        port: 9080,
        protocol: 'http',
        gateway: { address: GATEWAY.east, port: 15443 },
        labels: { app: 's1-reviews', version: 'v2', 'topology.istio.io/cluster': 'east' },
        workload: 's1-reviews-v2',
        serviceAccount: 's1-reviews-sa',
        endpointId: endpointIdOf('east', 'default', 's1-reviews-v2'),
      });
      const hostname = 's1-reviews.default.svc.cluster.local';
      t.true(west.events.has({ type: 'ServiceExported', cluster: 'east', hostname }));
      t.true(west.events.has({ type: 'ClusterImported', cluster: 'east' }));
      t.true(east.events.has({ type: 'ServiceExported', cluster: 'east', hostname }));
      t.deepEqual(east.handle.status().exports, [hostname]);
      t.true((west.handle.status().imports['east'] ?? 0) >= 2);
      t.false(west.handle.status().untrusted.includes('east'));
      t.deepEqual(imported(east.sink, 'east', 's1-reviews'), [], 'a cluster never imports itself');
    },
  },
  {
    title: 'a withdrawn export is removed from the importer, and close() deregisters the rest',
    async run(t, env) {
      const east = await start(t, env, 'east');
      const west = await start(t, env, 'west');
      east.handle.update(exportsOf('east', GATEWAY.east, ['s2-ratings', 's2-details']));
      await eventually(
        'west imports both services',
        () => imported(west.sink, 'east', 's2-ratings').length === 2 && imported(west.sink, 'east', 's2-details').length === 2,
      );
      east.handle.update(exportsOf('east', GATEWAY.east, ['s2-details']));
      await eventually('s2-ratings is withdrawn', () => imported(west.sink, 'east', 's2-ratings').length === 0);
      t.is(imported(west.sink, 'east', 's2-details').length, 2);
      t.true(west.events.has({ type: 'ServiceWithdrawn', cluster: 'east', hostname: 's2-ratings.default.svc.cluster.local' }));
      t.true(east.events.has({ type: 'ServiceWithdrawn', cluster: 'east', hostname: 's2-ratings.default.svc.cluster.local' }));
      await east.handle.close();
      await eventually('s2-details is gone after close()', () => imported(west.sink, 'east', 's2-details').length === 0);
      const ids = await east.backend.localServiceIds();
      t.true(ids.ok);
      if (ids.ok) t.deepEqual(ids.value.filter((id) => id.includes('/s2-')), []);
    },
  },
  {
    title: 'a dead cluster (heartbeats stop, nothing deregistered) disappears once its TTL lapses',
    async run(t, env) {
      const east = await start(t, env, 'east', { ttlSeconds: 2 });
      const west = await start(t, env, 'west');
      east.handle.update(exportsOf('east', GATEWAY.east, ['s3-dead']));
      await eventually('west imports s3-dead', () => imported(west.sink, 'east', 's3-dead').length === 2);
      await east.handle.close({ deregister: false });
      await eventually('s3-dead lapses', () => imported(west.sink, 'east', 's3-dead').length === 0);
      // Consul, not the importer, decided: the instances are still registered, but critical.
      const probe = env.backend('west');
      t.teardown(() => probe.close());
      const raw = await probe.watchServiceHealth('east', 's3-dead', { waitSeconds: 1 });
      t.true(raw.ok);
      if (!raw.ok) return;
      const converted = fromHealthEntries('east', raw.value.value);
      t.true(converted.ok);
      if (converted.ok) {
        t.deepEqual(converted.value.endpoints, []);
        t.deepEqual(converted.value.unhealthy.sort(), ['east/default/s3-dead/s3-dead-v1', 'east/default/s3-dead/s3-dead-v2']);
      }
      for (const id of ['east/default/s3-dead/s3-dead-v1', 'east/default/s3-dead/s3-dead-v2']) {
        await east.backend.deregister(id);
      }
    },
  },
  {
    title: 'a cluster publishing a different root is untrusted and nothing is imported from it',
    async run(t, env) {
      const south = await start(t, env, 'south', { root: rogueRoot });
      const west = await start(t, env, 'west');
      south.handle.update(exportsOf('south', GATEWAY.south, ['s4-rogue']));
      await eventually('west reports south untrusted', () =>
        west.events.has({ type: 'ClusterUntrusted', cluster: 'south' }),
      );
      await eventually('south shows in status().untrusted', () => west.handle.status().untrusted.includes('south'));
      // South did register its instances: they are refused, not missing.
      await eventually('south registers s4-rogue', async () => {
        const raw = await west.backend.watchServiceHealth('south', 's4-rogue', { waitSeconds: 1 });
        return raw.ok && Array.isArray(raw.value.value) && raw.value.value.length === 2;
      });
      t.false(west.sink.calls.some((c) => c.startsWith('replace south')));
      t.false(west.sink.shards.has('south'));
      t.is(west.handle.status().imports['south'], undefined);
      t.false(west.events.has({ type: 'ServiceExported', cluster: 'south' }));
      const reason = west.events.events.find((e) => e.type === 'ClusterUntrusted');
      t.regex(reason?.type === 'ClusterUntrusted' ? reason.reason : '', /shares no root with the local bundle/);
    },
  },
  {
    title: 'during a root rotation a peer is trusted while the bundles overlap, refused when disjoint, trusted again after setRoots',
    async run(t, env) {
      const east = await start(t, env, 'east');
      const west = await start(t, env, 'west');
      east.handle.update(exportsOf('east', GATEWAY.east, ['s8-rotate']));
      await eventually('west imports s8-rotate', () => imported(west.sink, 'east', 's8-rotate').length === 2);
      // Phase 1 in east: old+new. Then west already holds only the new root: still one shared root.
      east.handle.setRoots(meshRoot + nextRoot);
      await eventually('east publishes two roots', () => east.handle.status().rootFingerprints.length === 2);
      west.handle.setRoots(nextRoot);
      await eventually('west publishes the new root only', () => west.handle.status().rootFingerprints.length === 1);
      // West re-checked east against its new bundle (setRoots re-queues every peer) and kept it.
      await eventually('west re-imports after its bundle change', () => west.sink.calls.filter((c) => c.startsWith('replace east')).length >= 1);
      t.false(west.events.has({ type: 'ClusterUntrusted', cluster: 'east' }), 'an overlapping bundle is trusted');
      t.is(imported(west.sink, 'east', 's8-rotate').length, 2);
      // East goes back to the old root alone: disjoint from west's bundle, so it is refused.
      east.handle.setRoots(meshRoot);
      await eventually('west refuses east', () => west.handle.status().untrusted.includes('east'));
      t.regex(west.handle.status().untrustedReasons['east'] ?? '', /trust bundle of cluster east \(root certificate\) shares no root with the local bundle/);
      t.false(west.sink.shards.has('east'));
      // West takes old+new again (setRoots): overlap restored, east imported again.
      west.handle.setRoots(meshRoot + nextRoot);
      await eventually('west imports east again', () => imported(west.sink, 'east', 's8-rotate').length === 2);
      t.false(west.handle.status().untrusted.includes('east'));
      t.throws(() => west.handle.setRoots('no certificate here'), { message: /invalid rootCertPem/ });
    },
  },
  {
    title: 'an unreachable cluster is reported and keeps its last imports until it is back',
    async run(t, env) {
      const east = await start(t, env, 'east');
      const faulty = withFaults(env.backend('west'));
      const west = await start(t, env, 'west', { backend: faulty.backend });
      east.handle.update(exportsOf('east', GATEWAY.east, ['s5-cut']));
      await eventually('west imports s5-cut', () => imported(west.sink, 'east', 's5-cut').length === 2);
      faulty.cut.add('east');
      await eventually('west reports east unreachable', () =>
        west.events.has({ type: 'ClusterUnreachable', cluster: 'east' }),
      );
      t.is(imported(west.sink, 'east', 's5-cut').length, 2, 'a partition is not a withdrawal');
      t.false(west.sink.calls.includes('remove east'));
      const staleness = (): number => west.handle.status().stalenessSeconds['east'] ?? Number.NaN;
      const cutFor = staleness();
      await eventually('the kept imports grow stale', () => staleness() >= cutFor + 0.5);
      const stale = staleness();
      east.handle.update(exportsOf('east', GATEWAY.east, ['s5-cut', 's5-later']));
      faulty.cut.delete('east');
      await eventually('west imports s5-later once east is back', () => imported(west.sink, 'east', 's5-later').length === 2);
      t.true(staleness() < stale, 'an answer from east resets its staleness');
    },
  },
  {
    title: 'the orphan sweep removes stale registrations under the own prefix only',
    async run(t, env) {
      const backend = env.backend('east');
      const stale = toRegistrations(exportsOf('east', GATEWAY.east, ['s6-stale']), { ttlSeconds: 30 }).registrations;
      const foreign = toRegistrations(exportsOf('eastern', GATEWAY.east, ['s6-other']), { ttlSeconds: 30 }).registrations;
      for (const r of [...stale, ...foreign]) t.true((await backend.register(r)).ok);
      t.teardown(async () => {
        for (const r of foreign) await backend.deregister(r.id);
      });
      const east = await start(t, env, 'east', { backend, sweepIntervalMs: 200 });
      east.handle.update(exportsOf('east', GATEWAY.east, ['s6-kept']));
      const ids = async (): Promise<string[]> => {
        const r = await backend.localServiceIds();
        return r.ok ? r.value.filter((id) => id.includes('/s6-')).sort() : [];
      };
      await eventually('stale s6 registrations are swept', async () => {
        const now = await ids();
        return now.length === 4 && !now.some((id) => id.includes('s6-stale'));
      });
      t.deepEqual(await ids(), [
        'east/default/s6-kept/s6-kept-v1',
        'east/default/s6-kept/s6-kept-v2',
        'eastern/default/s6-other/s6-other-v1',
        'eastern/default/s6-other/s6-other-v2',
      ]);
    },
  },
];
