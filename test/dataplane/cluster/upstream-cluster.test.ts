import test from 'ava';
import { type ClusterNotFound, createClusterManager, type Outcome, type PickResult } from '../../../src/dataplane/cluster/index.ts';
import type { ClusterConfig, EndpointConfig, OutlierDetectionConfig, ProxyConfig } from '../../../src/xds/config-types.ts';
import { cluster, ep, FakeClock, seeded, tally } from './support.ts';

/** UpstreamCluster through the ClusterManager: outlier detection, panic, circuit breakers, priorities, updates. */

function config(c: ClusterConfig, endpoints: EndpointConfig[]): ProxyConfig {
  const withEndpoints = { ...c, staticEndpoints: endpoints };
  return {
    listeners: new Map(),
    routes: new Map(),
    clusters: new Map([[c.name, withEndpoints]]),
    endpoints: new Map(),
    versions: { listener: '', route: '', cluster: '', endpoint: '' },
  };
}

const od = (extra: Partial<OutlierDetectionConfig> = {}): OutlierDetectionConfig => ({
  consecutive5xx: 3,
  enforcingConsecutive5xx: 100,
  consecutiveGatewayFailure: 0,
  enforcingConsecutiveGatewayFailure: 0,
  intervalMs: 1000,
  baseEjectionTimeMs: 10_000,
  maxEjectionPercent: 100,
  ...extra,
});

function host(r: PickResult | ClusterNotFound): string {
  if (!r.ok) return r.flag;
  r.release();
  return r.endpoint.address.host;
}

function fail(m: ReturnType<typeof createClusterManager>, address: string, outcome: Outcome, times: number): void {
  const c = m.get('c');
  const e = c?.stats().hosts.find((h) => h.address === `${address}:8080`);
  if (!c || !e) throw new Error('no such host');
  const endpoint = [...(c.config.staticEndpoints ?? [])].find((x) => x.address.host === address);
  if (!endpoint) throw new Error('no such endpoint');
  for (let i = 0; i < times; i++) c.reportOutcome(endpoint, outcome);
}

test('unknown cluster answers NC', (t) => {
  const m = createClusterManager();
  const r = m.pick('nope', {});
  t.like(r, { ok: false, status: 503, flag: 'NC' });
});

const ejectionRows: { title: string; od: Partial<OutlierDetectionConfig>; outcome: Outcome; times: number; ejected: boolean }[] = [
  { title: '3 consecutive 503s eject (consecutive_5xx 3)', od: {}, outcome: { kind: 'response', status: 503 }, times: 3, ejected: true },
  { title: '2 consecutive 500s do not', od: {}, outcome: { kind: 'response', status: 500 }, times: 2, ejected: false },
  { title: 'connect failures count as 503', od: {}, outcome: { kind: 'connect-failure' }, times: 3, ejected: true },
  { title: 'timeouts count as 504', od: {}, outcome: { kind: 'timeout' }, times: 3, ejected: true },
  { title: 'resets count as 503', od: {}, outcome: { kind: 'reset' }, times: 3, ejected: true },
  {
    title: 'gateway failures alone (consecutive_5xx off, gateway 2 enforced)',
    od: { consecutive5xx: 0, consecutiveGatewayFailure: 2, enforcingConsecutiveGatewayFailure: 100 },
    outcome: { kind: 'response', status: 502 },
    times: 2,
    ejected: true,
  },
  {
    title: '500 is not a gateway failure',
    od: { consecutive5xx: 0, consecutiveGatewayFailure: 2, enforcingConsecutiveGatewayFailure: 100 },
    outcome: { kind: 'response', status: 500 },
    times: 5,
    ejected: false,
  },
  { title: 'enforcing 0 detects but never ejects', od: { enforcingConsecutive5xx: 0 }, outcome: { kind: 'response', status: 503 }, times: 6, ejected: false },
];

for (const row of ejectionRows) {
  test(`outlier: ${row.title}`, (t) => {
    const m = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
    m.update(config(cluster({ outlierDetection: od(row.od) }), [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]));
    fail(m, '10.0.0.1', row.outcome, row.times);
    t.is(m.get('c')?.stats().hosts[0]?.ejected, row.ejected);
  });
}

test('outlier: a success in between resets the consecutive count', (t) => {
  const m = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
  m.update(config(cluster({ outlierDetection: od() }), [ep('10.0.0.1'), ep('10.0.0.2')]));
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 2);
  fail(m, '10.0.0.1', { kind: 'response', status: 200 }, 1);
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 2);
  t.false(m.get('c')?.stats().hosts[0]?.ejected);
});

test('outlier: an ejected host gets no traffic, returns after base × ejections at an interval sweep', (t) => {
  const clock = new FakeClock();
  const m = createClusterManager({ clock: clock.read, random: seeded(1) });
  m.update(config(cluster({ outlierDetection: od(), healthyPanicThresholdPercent: 0 }), [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]));
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 3);
  const during = tally(300, () => host(m.pick('c', {})));
  t.log(`while ejected: ${JSON.stringify([...during])}`);
  t.is(during.get('10.0.0.1'), undefined);
  clock.advance(9_999);
  t.true(m.get('c')?.stats().hosts[0]?.ejected, 'still ejected before 10 s');
  clock.advance(1);
  m.pick('c', {});
  t.false(m.get('c')?.stats().hosts[0]?.ejected, 'back after 10 s');
  // Second ejection lasts twice as long.
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 3);
  clock.advance(10_000);
  m.pick('c', {});
  t.true(m.get('c')?.stats().hosts[0]?.ejected, 'second ejection: still out after 10 s');
  clock.advance(10_000);
  m.pick('c', {});
  t.false(m.get('c')?.stats().hosts[0]?.ejected, 'back after 20 s');
  t.deepEqual(m.get('c')?.stats().hosts[0]?.ejections, { consecutive5xx: 2, consecutiveGatewayFailure: 0 });
});

test('outlier: max_ejection_percent caps ejections (at least one host may always go)', (t) => {
  const m = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
  const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];
  m.update(config(cluster({ outlierDetection: od({ maxEjectionPercent: 10 }) }), hosts.map((h) => ep(h))));
  for (const h of hosts) fail(m, h, { kind: 'response', status: 503 }, 3);
  t.deepEqual(m.get('c')?.stats().hosts.map((h) => h.ejected), [true, false, false, false]);
  const m50 = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
  m50.update(config(cluster({ outlierDetection: od({ maxEjectionPercent: 50 }) }), hosts.map((h) => ep(h))));
  for (const h of hosts) fail(m50, h, { kind: 'response', status: 503 }, 3);
  t.deepEqual(m50.get('c')?.stats().hosts.map((h) => h.ejected), [true, true, false, false]);
});

test('panic: below healthy_panic_threshold the cluster balances across all hosts, ejected included', (t) => {
  const m = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
  const hosts = [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')];
  m.update(config(cluster({ outlierDetection: od(), healthyPanicThresholdPercent: 70 }), hosts));
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 3);
  const counts = tally(300, () => host(m.pick('c', {})));
  t.log(`2 of 3 healthy (66%) < 70%: ${JSON.stringify([...counts])}`);
  t.is(counts.get('10.0.0.1'), 100);
  t.deepEqual(m.get('c')?.stats().panic, [true]);
});

test('panic threshold 0: no healthy host answers UH; Envoy default 50 balances across all', (t) => {
  const down = [ep('10.0.0.1', { healthy: false })];
  const strict = createClusterManager();
  strict.update(config(cluster({ healthyPanicThresholdPercent: 0 }), down));
  t.like(strict.pick('c', {}), { ok: false, flag: 'UH' });
  const envoyDefault = createClusterManager();
  envoyDefault.update(config(cluster(), down));
  t.is(host(envoyDefault.pick('c', {})), '10.0.0.1');
  const empty = createClusterManager();
  empty.update(config(cluster(), []));
  t.like(empty.pick('c', {}), { ok: false, status: 503, flag: 'UH' });
});

test('circuit breaker: max_requests refuses with UO until a request is released', (t) => {
  const m = createClusterManager();
  m.update(config(cluster({ circuitBreakers: { maxConnections: 100, maxPendingRequests: 100, maxRequests: 2, maxRetries: 1 } }), [ep('10.0.0.1')]));
  const a = m.pick('c', {});
  const b = m.pick('c', {});
  t.true(a.ok && b.ok);
  t.like(m.pick('c', {}), { ok: false, status: 503, flag: 'UO' });
  if (a.ok) {
    a.release();
    a.release();
  }
  t.true(m.pick('c', {}).ok, 'a slot is free again (release is idempotent)');
  t.is(m.get('c')?.stats().overflows.max_requests, 1);
});

test('circuit breaker: retries count against max_retries; connections beyond max are pending', (t) => {
  const m = createClusterManager();
  m.update(config(cluster({ circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 100, maxRetries: 1 } }), [ep('10.0.0.1')]));
  t.true(m.pick('c', { retry: true }).ok);
  t.like(m.pick('c', { retry: true }), { ok: false, flag: 'UO' });
  t.true(m.pick('c', {}).ok, 'beyond max_connections: pending');
  t.like(m.pick('c', {}), { ok: false, flag: 'UO' }, 'one running, one pending: the third is refused');
  t.deepEqual(m.get('c')?.stats().overflows, { max_requests: 0, max_pending_requests: 1, max_retries: 1, max_connections: 0 });
});

test('circuit breaker: a TCP proxy connection beyond max_connections is refused at once with UO (no pending queue)', (t) => {
  const m = createClusterManager();
  m.update(config(cluster({ circuitBreakers: { maxConnections: 1, maxPendingRequests: 100, maxRequests: 100, maxRetries: 1 } }), [ep('10.0.0.1')]));
  const first = m.pick('c', { connection: true });
  t.true(first.ok);
  t.like(m.pick('c', { connection: true }), { ok: false, status: 503, flag: 'UO' });
  if (first.ok) first.release();
  t.true(m.pick('c', { connection: true }).ok, 'released: admitted again');
  t.is(m.get('c')?.stats().overflows.max_connections, 1);
});

test('priorities: traffic spills from a half-down P0 to P1 (70/30)', (t) => {
  const m = createClusterManager({ random: seeded(5) });
  m.update(
    config(cluster(), [
      ep('10.0.0.1'),
      ep('10.0.0.2', { healthy: false }),
      ep('10.0.1.1', { priority: 1 }),
    ]),
  );
  const counts = tally(2000, () => host(m.pick('c', {})));
  t.log(`counts ${JSON.stringify([...counts])} (expected 1400 / 600 ± 100)`);
  t.true(Math.abs((counts.get('10.0.0.1') ?? 0) - 1400) <= 100);
  t.true(Math.abs((counts.get('10.0.1.1') ?? 0) - 600) <= 100);
  t.is(counts.get('10.0.0.2'), undefined);
});

test('previous_priorities: a retry that excludes P0 goes to P1; with every priority excluded the normal load applies', (t) => {
  const m = createClusterManager({ random: seeded(9) });
  m.update(config(cluster(), [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.1.1', { priority: 1 }), ep('10.0.2.1', { priority: 2 })]));
  const normal = tally(200, () => host(m.pick('c', { retry: true })));
  t.deepEqual([...normal.keys()].sort(), ['10.0.0.1', '10.0.0.2'], 'a healthy P0 takes all the load');
  const away = tally(200, () => host(m.pick('c', { retry: true, excludedPriorities: new Set([0]) })));
  t.deepEqual([...away.keys()], ['10.0.1.1'], 'P0 excluded: P1 is healthy and takes it all');
  const further = tally(200, () => host(m.pick('c', { retry: true, excludedPriorities: new Set([0, 1]) })));
  t.deepEqual([...further.keys()], ['10.0.2.1']);
  const reset = tally(200, () => host(m.pick('c', { retry: true, excludedPriorities: new Set([0, 1, 2]) })));
  t.deepEqual([...reset.keys()].sort(), ['10.0.0.1', '10.0.0.2'], 'nothing healthy left outside: reset to the normal load');
  t.is(m.get('c')?.stats().activeRetries, 0, 'every retry lease was released');
});

test('localities: locality-weighted LB splits by locality weight', (t) => {
  const m = createClusterManager({ random: seeded(5) });
  const east = { zone: 'east' };
  const west = { zone: 'west' };
  m.update(
    config(cluster({ localityWeightedLb: true }), [
      ep('10.0.0.1', { locality: east, localityWeight: 80 }),
      ep('10.0.0.2', { locality: east, localityWeight: 80 }),
      ep('10.0.1.1', { locality: west, localityWeight: 20 }),
    ]),
  );
  const counts = tally(1000, () => host(m.pick('c', {})));
  t.deepEqual(Object.fromEntries(counts), { '10.0.0.1': 400, '10.0.0.2': 400, '10.0.1.1': 200 });
});

test('update in place keeps active counts and ejections of hosts that remain; a dropped cluster is gone', (t) => {
  const m = createClusterManager({ clock: new FakeClock().read, random: seeded(1) });
  const c = cluster({ outlierDetection: od() });
  m.update(config(c, [ep('10.0.0.1'), ep('10.0.0.2')]));
  fail(m, '10.0.0.1', { kind: 'response', status: 503 }, 3);
  const held = m.pick('c', {});
  t.true(held.ok);
  m.update(config({ ...c }, [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]));
  const s = m.get('c')?.stats();
  t.deepEqual(s?.hosts.map((h) => [h.address, h.ejected, h.active]), [
    ['10.0.0.1:8080', true, 0],
    ['10.0.0.2:8080', false, 1],
    ['10.0.0.3:8080', false, 0],
  ]);
  t.is(s?.activeRequests, 1);
  m.update({ ...config(c, []), clusters: new Map() });
  t.is(m.get('c'), undefined);
  if (held.ok) t.notThrows(() => held.release());
});

test('ring hash cluster: one hash key sticks to one host', (t) => {
  const m = createClusterManager({ random: seeded(2) });
  m.update(config(cluster({ lbPolicy: 'RING_HASH' }), [ep('10.0.0.1'), ep('10.0.0.2'), ep('10.0.0.3')]));
  const picks = new Set(Array.from({ length: 50 }, () => host(m.pick('c', { hashKey: 123456789n }))));
  t.is(picks.size, 1);
});

test('remote endpoints behind one gateway address are distinct hosts by SNI: split, eject and return one by one', (t) => {
  const clock = new FakeClock();
  const m = createClusterManager({ clock: clock.read, random: seeded(3) });
  const sniA = 'ep_.000000000000000a_.outbound_.9080_._.reviews.default.svc.cluster.local';
  const sniB = 'ep_.000000000000000b_.outbound_.9080_._.reviews.default.svc.cluster.local';
  const a = ep('10.9.0.1', { tlsMode: 'istio', sni: sniA });
  const b = ep('10.9.0.1', { tlsMode: 'istio', sni: sniB });
  const endpoints = [{ ...a, address: { host: '10.9.0.1', port: 15443 } }, { ...b, address: { host: '10.9.0.1', port: 15443 } }];
  m.update(config(cluster({ outlierDetection: od(), healthyPanicThresholdPercent: 0 }), endpoints));
  const c = m.get('c');
  t.deepEqual(
    c?.stats().hosts.map((h) => h.address),
    [`10.9.0.1:15443#${sniA}`, `10.9.0.1:15443#${sniB}`],
    'two hosts, not one collapsed gateway host',
  );
  const pickSni = (): string => {
    const r = m.pick('c', {});
    if (!r.ok) return r.flag;
    r.release();
    return r.endpoint.sni ?? '-';
  };
  const healthy = tally(200, pickSni);
  t.log(`both healthy: ${JSON.stringify([...healthy])}`);
  t.is(healthy.get(sniA), 100, 'round robin: exactly half each');
  t.is(healthy.get(sniB), 100);
  for (let i = 0; i < 3; i++) c?.reportOutcome(endpoints[0]!, { kind: 'connect-failure' });
  t.deepEqual(
    c?.stats().hosts.map((h) => h.ejected),
    [true, false],
    'only the failing endpoint is ejected, though both share the gateway address',
  );
  const during = tally(100, pickSni);
  t.deepEqual([...during], [[sniB, 100]]);
  clock.advance(10_000);
  const after = tally(200, pickSni);
  t.log(`after the ejection time: ${JSON.stringify([...after])}`);
  t.is(after.get(sniA), 100, 'back in rotation');
});
