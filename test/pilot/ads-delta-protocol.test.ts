import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { type AdsMetrics, AdsServer, type GenerationKey, type TypeStatus } from '../../src/pilot/ads/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { TYPE_URL, type XdsTypeUrl } from '../../src/xds/type-urls.ts';
import { TestGenerator, type TestSnapshot, basicMesh, edsCluster, loadAssignment } from '../xds/support/fixtures.ts';
import { RawAdsStream, namesOf } from '../xds/support/raw-ads-stream.ts';
import { RawDeltaAdsStream, deltaNames, deltaVersions } from '../xds/support/raw-delta-ads-stream.ts';

// Loopback: 127.141.0.1 (the ADS server of every test in this file).
const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = TYPE_URL;

interface Harness {
  gen: TestGenerator;
  ads: AdsServer<TestSnapshot>;
  nacks: { node: ProxyNode; typeUrl: string; detail: string }[];
  pushed: XdsTypeUrl[];
  converged: number[];
  delta(): RawDeltaAdsStream;
  sotw(): RawAdsStream;
}

async function startAds(t: ExecutionContext, generationKey?: GenerationKey<TestSnapshot>): Promise<Harness> {
  const gen = new TestGenerator();
  basicMesh(gen);
  const nacks: Harness['nacks'] = [];
  const pushed: XdsTypeUrl[] = [];
  const converged: number[] = [];
  const metrics: AdsMetrics = { pushed: (u) => pushed.push(u), pushTime: () => {}, converged: (s) => converged.push(s) };
  const ads = new AdsServer({
    generate: gen.generate,
    snapshot: gen.snapshot(),
    logger: pino({ level: 'silent' }),
    onNack: (node, typeUrl, detail) => nacks.push({ node, typeUrl, detail }),
    metrics,
    ...(generationKey ? { generationKey } : {}),
  });
  const server = new grpc.Server();
  ads.addTo(server);
  const closers: { close(): void }[] = [];
  t.teardown(() => {
    for (const s of closers) s.close();
    ads.close();
    server.forceShutdown();
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.141.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const target = `127.141.0.1:${port}`;
  const track = <T extends { close(): void }>(s: T): T => {
    closers.push(s);
    return s;
  };
  return {
    gen,
    ads,
    nacks,
    pushed,
    converged,
    delta: () => track(new RawDeltaAdsStream(target)),
    sotw: () => track(new RawAdsStream(target)),
  };
}

/** The status of `typeUrl` on the only connected stream. */
function typeStatus(h: Harness, typeUrl: XdsTypeUrl): TypeStatus | undefined {
  const all = h.ads.status();
  return all[0]?.types[typeUrl];
}

test('an empty first CDS request is a wildcard: every cluster, each with a version, the snapshot as system version', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: CDS });
  const r = await s.next();
  t.is(r.type_url, CDS);
  t.is(r.system_version_info, h.gen.snapshot().version);
  t.deepEqual(deltaNames(r), ['c1', 'c2']);
  t.deepEqual(r.removed_resources, []);
  for (const res of r.resources) {
    t.is(res.resource['@type'], CDS);
    t.is(res.resource['name'], res.name);
    t.regex(res.version, /^[A-Za-z0-9+/=]{20,}$/);
  }
  t.not(r.resources[0]?.version, r.resources[1]?.version, 'per-resource versions differ with content');
  t.true(typeStatus(h, CDS)?.wildcard);
});

test('an empty first EDS request subscribes to nothing; `*` subscribes to everything', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: EDS });
  s.send({ typeUrl: LDS });
  const l = await s.next();
  t.is(l.type_url, LDS, 'nothing is sent for an EDS request that names nothing');
  s.send({ typeUrl: EDS, subscribe: ['*'] });
  const e = await s.next();
  t.is(e.type_url, EDS);
  t.deepEqual(deltaNames(e), ['c2', 'svc1']);
});

test('explicit EDS names: subscribe and unsubscribe mid stream send only what is newly wanted', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: EDS, subscribe: ['svc1'] });
  const first = await s.next();
  t.deepEqual(deltaNames(first), ['svc1']);
  s.ack(first);
  s.send({ typeUrl: EDS, subscribe: ['c2'] });
  const second = await s.next();
  t.deepEqual(deltaNames(second), ['c2'], 'svc1, already held, is not sent again');
  s.ack(second);
  s.send({ typeUrl: EDS, unsubscribe: ['svc1'] });
  // Requests are processed in order: the first LDS answer proves the unsubscribe was applied.
  s.send({ typeUrl: LDS });
  t.is((await s.next()).type_url, LDS);
  h.gen.set(EDS, [loadAssignment('svc1', [['127.0.0.7', 8080]]), loadAssignment('c2', [['127.0.0.8', 9090]])]);
  h.ads.push(h.gen.push('endpoints', { scope: 'endpoints' }));
  const third = await s.next();
  t.deepEqual(deltaNames(third), ['c2'], 'the unsubscribed svc1 changed and was not sent');
  t.deepEqual(third.removed_resources, [], 'an unsubscribed name is not reported removed');
  t.deepEqual(typeStatus(h, EDS)?.requested, ['c2']);
  t.deepEqual(typeStatus(h, EDS)?.resourceNames, ['c2']);
});

test('a push sends only the changed resources and names the removed ones', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: CDS });
  const first = await s.next();
  s.ack(first);
  const before = deltaVersions(first);
  h.gen.set(CDS, [edsCluster('c1', 'svc1-renamed')]);
  h.ads.push(h.gen.push('config'));
  const r = await s.next();
  t.is(r.type_url, CDS);
  t.deepEqual(deltaNames(r), ['c1']);
  t.deepEqual(r.removed_resources, ['c2']);
  t.not(r.resources[0]?.version, before['c1']);
  t.is(r.system_version_info, h.gen.snapshot().version);
  s.ack(r);
  h.gen.set(CDS, [edsCluster('c1', 'svc1-renamed'), edsCluster('c3')]);
  h.ads.push(h.gen.push('config'));
  const added = await s.next();
  t.deepEqual(deltaNames(added), ['c3'], 'c1 is unchanged and not resent');
  t.deepEqual(added.removed_resources, []);
});

test('initial_resource_versions on a new stream: only what differs is sent, held names that are gone are removed', async (t) => {
  const h = await startAds(t);
  const s1 = h.delta();
  s1.send({ typeUrl: CDS });
  const first = await s1.next();
  const versions = deltaVersions(first);
  s1.close();
  const s2 = h.delta();
  s2.send({ typeUrl: CDS, initialVersions: { c1: versions['c1'] ?? '', c2: 'stale', gone: 'old' } });
  const r = await s2.next();
  t.deepEqual(deltaNames(r), ['c2']);
  t.is(r.resources[0]?.version, versions['c2']);
  t.deepEqual(r.removed_resources, ['gone']);
  // A proxy that holds exactly the snapshot still gets an (empty) first answer.
  const s3 = h.delta();
  s3.send({ typeUrl: CDS, initialVersions: versions });
  const empty = await s3.next();
  t.is(empty.type_url, CDS);
  t.deepEqual(empty.resources, []);
  t.deepEqual(empty.removed_resources, []);
});

test('ACK records the version; NACK keeps the acked one, is reported, and the same bytes are not resent', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: CDS });
  const first = await s.next();
  s.ack(first);
  await waitFor(() => typeStatus(h, CDS)?.versionAcked === first.system_version_info);
  h.gen.set(CDS, [edsCluster('c1', 'other'), edsCluster('c2')]);
  h.ads.push(h.gen.push('config'));
  const bad = await s.next();
  t.deepEqual(deltaNames(bad), ['c1']);
  s.nack(bad, 'c1: invalid eds_cluster_config');
  await waitFor(() => h.nacks.length === 1);
  t.is(h.nacks[0]?.typeUrl, CDS);
  t.is(h.nacks[0]?.detail, 'c1: invalid eds_cluster_config');
  const st = typeStatus(h, CDS);
  t.is(st?.versionAcked, first.system_version_info, 'the last acked version stays');
  t.is(st?.nack, 'c1: invalid eds_cluster_config');
  t.deepEqual(st?.nackedResources, { c1: 'c1: invalid eds_cluster_config' });
  // A new snapshot with the same CDS content: nothing for CDS; a changed c2 is sent alone.
  h.gen.set(CDS, [edsCluster('c1', 'other'), edsCluster('c2', 'svc2')]);
  h.ads.push(h.gen.push('config'));
  const next = await s.next();
  t.is(next.type_url, CDS);
  t.deepEqual(deltaNames(next), ['c2'], 'the NACKed c1 is not resent while its bytes are the same');
  s.ack(next);
  await waitFor(() => typeStatus(h, CDS)?.versionAcked === next.system_version_info);
  t.is(typeStatus(h, CDS)?.nack, undefined, 'an ACK clears the NACK');
});

test('an ACK or NACK with a stale nonce is ignored, its subscription changes still apply', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: EDS, subscribe: ['svc1'] });
  const first = await s.next();
  s.send({ typeUrl: EDS, nonce: 'not-a-nonce', errorDetail: 'svc1: bad' });
  s.send({ typeUrl: EDS, nonce: 'not-a-nonce-either' });
  s.send({ typeUrl: EDS, nonce: 'stale', subscribe: ['c2'] });
  const second = await s.next();
  t.deepEqual(deltaNames(second), ['c2'], 'the subscription of a request with a stale nonce applies');
  const st = typeStatus(h, EDS);
  t.is(st?.versionAcked, undefined, 'no stale ACK counted');
  t.is(st?.nack, undefined, 'no stale NACK counted');
  t.deepEqual(h.nacks, []);
  s.ack(first);
  s.send({ typeUrl: LDS });
  await s.next();
  t.is(typeStatus(h, EDS)?.versionAcked, undefined, 'the ACK of an older response is not an ACK of the latest');
  s.ack(second);
  await waitFor(() => typeStatus(h, EDS)?.versionAcked === second.system_version_info);
  t.is(typeStatus(h, EDS)?.versionAcked, second.system_version_info, 'the ACK of the latest response is counted');
});

test('a push goes CDS, EDS, LDS, RDS and counts per type; convergence is reported once every type is answered', async (t) => {
  const h = await startAds(t);
  const s = h.delta();
  s.send({ typeUrl: CDS });
  s.ack(await s.next());
  s.send({ typeUrl: EDS, subscribe: ['svc1', 'c2'] });
  s.ack(await s.next());
  s.send({ typeUrl: LDS });
  s.ack(await s.next());
  s.send({ typeUrl: RDS, subscribe: ['r1'] });
  s.ack(await s.next());
  h.gen.set(CDS, [edsCluster('c1', 'svc1'), edsCluster('c2', 'svc2x')]);
  h.gen.set(EDS, [loadAssignment('svc1', [['127.0.0.9', 8080]]), loadAssignment('c2', [['127.0.0.3', 9090]])]);
  h.gen.set(RDS, [{ '@type': RDS, name: 'r1', virtual_hosts: [] }]);
  h.ads.push(h.gen.push('config'));
  const order: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await s.next();
    order.push(r.type_url);
    t.is(h.converged.length, 0, 'not converged before every type is answered');
    s.ack(r);
  }
  t.deepEqual(order, [CDS, EDS, RDS], 'LDS did not change and is not sent');
  await waitFor(() => h.converged.length === 1);
  t.deepEqual(h.pushed, [CDS, EDS, RDS]);
});

test('SotW and delta streams share one generation per snapshot and key', async (t) => {
  const h = await startAds(t, () => 'everyone');
  const d = h.delta();
  d.send({ typeUrl: CDS });
  const dr = await d.next();
  const w = h.sotw();
  w.send({ typeUrl: CDS });
  const wr = await w.next();
  t.deepEqual(deltaNames(dr), namesOf(wr));
  t.is(h.gen.calls.filter((c) => c.typeUrl === CDS).length, 1);
  t.is(h.ads.status().length, 2);
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
