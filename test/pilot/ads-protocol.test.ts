import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { AdsServer, type ProxyStatus } from '../../src/pilot/ads/index.ts';
import type { ProxyNode } from '../../src/xds/node.ts';
import { PUSH_ORDER, TYPE_URL } from '../../src/xds/type-urls.ts';
import { TestGenerator, type TestSnapshot, basicMesh, edsCluster, httpListener, loadAssignment, routeConfig } from '../xds/support/fixtures.ts';
import { RawAdsStream, type RawResponse, namesOf, wireNode } from '../xds/support/raw-ads-stream.ts';
import { openStalledAdsStream } from '../xds/support/stalled-ads-stream.ts';

const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = TYPE_URL;

interface Harness {
  gen: TestGenerator;
  ads: AdsServer<TestSnapshot>;
  target: string;
  nacks: { node: ProxyNode; typeUrl: string; detail: string }[];
  open(opts?: ConstructorParameters<typeof RawAdsStream>[1]): RawAdsStream;
}

async function startAds(t: ExecutionContext, queueLimit?: number): Promise<Harness> {
  const gen = new TestGenerator();
  basicMesh(gen);
  const nacks: Harness['nacks'] = [];
  const ads = new AdsServer({
    generate: gen.generate,
    snapshot: gen.snapshot(),
    logger: pino({ level: 'silent' }),
    onNack: (node, typeUrl, detail) => nacks.push({ node, typeUrl, detail }),
    ...(queueLimit ? { queueLimit } : {}),
  });
  const server = new grpc.Server();
  ads.addTo(server);
  const streams: RawAdsStream[] = [];
  t.teardown(() => {
    for (const s of streams) s.close();
    ads.close();
    server.forceShutdown();
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const target = `127.0.0.1:${port}`;
  return {
    gen,
    ads,
    target,
    nacks,
    open: (opts) => {
      const s = new RawAdsStream(target, opts);
      streams.push(s);
      return s;
    },
  };
}

/**
 * Requests run in order on a stream, so a response to a fresh subscription request proves that
 * every request sent before it was processed and that nothing else was sent in between: the next
 * response must be the barrier's own.
 */
class Barrier {
  private seq = 0;

  /** `last`: the latest response of `typeUrl` already received on the stream, if any. */
  constructor(
    private readonly s: RawAdsStream,
    private readonly typeUrl: string = RDS,
    private last?: RawResponse,
  ) {}

  async pass(t: ExecutionContext): Promise<void> {
    const name = `barrier-${++this.seq}`;
    this.s.send({ typeUrl: this.typeUrl, names: [name], nonce: this.last?.nonce ?? '' });
    const r = await this.s.next();
    t.is(r.type_url, this.typeUrl, 'the barrier response comes next: nothing else was sent before it');
    this.last = r;
  }
}

function statusOf(ads: AdsServer<TestSnapshot>): ProxyStatus {
  const all = ads.status();
  if (all.length !== 1 || !all[0]) throw new Error(`expected one proxy, got ${all.length}`);
  return all[0];
}

test('the first request of a type gets a version, a nonce and typed resources', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  s.send({ typeUrl: CDS });
  const r = await s.next();
  t.is(r.type_url, CDS);
  t.not(r.version_info, '');
  t.not(r.nonce, '');
  t.deepEqual(namesOf(r), ['c1', 'c2']);
  t.true(r.resources.every((x) => x['@type'] === CDS));
  const st = statusOf(h.ads);
  t.is(st.nodeId, 'sidecar~127.0.0.10~productpage-v1.default~default.svc.cluster.local');
  t.is(st.cluster, 'east');
  t.is(st.type, 'sidecar');
  t.is(st.types[CDS]?.versionSent, r.version_info);
  t.is(st.types[CDS]?.nonce, r.nonce);
  t.is(st.types[CDS]?.versionAcked, undefined);
});

test('an ACK records the acked version', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  s.send({ typeUrl: CDS });
  const r = await s.next();
  s.ack(r);
  await new Barrier(s).pass(t);
  const cds = statusOf(h.ads).types[CDS];
  t.is(cds?.versionAcked, r.version_info);
  t.deepEqual(cds?.resourceNames, ['c1', 'c2']);
  t.is(cds?.nack, undefined);
});

test('a NACK is recorded per resource and the same content is not sent again', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  const barrier = new Barrier(s);
  s.send({ typeUrl: CDS });
  const r = await s.next();
  const detail = 'xDS response validation errors: [c2: connect_timeout: must be positive]';
  s.send({ typeUrl: CDS, nonce: r.nonce, version: '', errorDetail: detail });
  await barrier.pass(t);
  const cds = statusOf(h.ads).types[CDS];
  t.is(cds?.nack, detail);
  t.deepEqual(cds?.nackedResources, { c2: 'c2: connect_timeout: must be positive' });
  t.is(cds?.versionAcked, undefined);
  t.is(h.nacks.length, 1);
  t.is(h.nacks[0]?.typeUrl, CDS);

  h.ads.push(h.gen.push('nothing changed'));
  await barrier.pass(t);

  h.gen.set(CDS, [edsCluster('c1', 'svc1')]);
  h.ads.push(h.gen.push('c2 removed'));
  const fixed = await s.next();
  t.is(fixed.type_url, CDS);
  t.deepEqual(namesOf(fixed), ['c1']);
  s.ack(fixed);
  await barrier.pass(t);
  const after = statusOf(h.ads).types[CDS];
  t.is(after?.versionAcked, fixed.version_info);
  t.is(after?.nack, undefined);
});

test('a request whose nonce is not the latest sent is ignored', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  const barrier = new Barrier(s);
  s.send({ typeUrl: CDS });
  const first = await s.next();
  h.gen.set(CDS, [edsCluster('c1', 'svc1'), edsCluster('c3')]);
  h.ads.push(h.gen.push('c3 added'));
  const second = await s.next();
  t.not(second.nonce, first.nonce);
  // A late ACK of the first response, a late NACK, and a late widening: all stale.
  s.ack(first);
  s.send({ typeUrl: CDS, nonce: first.nonce, errorDetail: 'c1: late' });
  s.send({ typeUrl: CDS, names: ['c1'], nonce: first.nonce });
  await barrier.pass(t);
  const cds = statusOf(h.ads).types[CDS];
  t.is(cds?.versionAcked, undefined);
  t.is(cds?.nack, undefined);
  t.true(cds?.wildcard);
  t.is(cds?.nonce, second.nonce);
});

test('LDS and CDS start as wildcards; EDS and RDS get only the names asked for', async (t) => {
  const h = await startAds(t);
  h.gen.set(LDS, [httpListener('l1', 15001, 'r1'), httpListener('l2', 15002, 'r2')]);
  h.gen.set(RDS, [routeConfig('r1', 'c1'), routeConfig('r2', 'c2')]);
  h.ads.push(h.gen.push('listeners and routes added'));
  const s = h.open();
  const table: { typeUrl: string; names: string[]; expected: string[] }[] = [
    { typeUrl: CDS, names: [], expected: ['c1', 'c2'] },
    { typeUrl: LDS, names: [], expected: ['l1', 'l2'] },
    { typeUrl: EDS, names: ['svc1'], expected: ['svc1'] },
    { typeUrl: RDS, names: ['r2', 'missing'], expected: ['r2'] },
    { typeUrl: EDS, names: [], expected: [] },
  ];
  const got: Record<string, RawResponse> = {};
  for (const row of table.slice(0, 4)) {
    s.send({ typeUrl: row.typeUrl, names: row.names });
    const r = await s.next();
    t.is(r.type_url, row.typeUrl);
    t.deepEqual(namesOf(r), row.expected, row.typeUrl);
    got[row.typeUrl] = r;
  }
  // Widening EDS with the latest nonce answers with both.
  const eds = got[EDS]!;
  s.ack(eds, ['svc1', 'c2']);
  const wider = await s.next();
  t.deepEqual(namesOf(wider), ['c2', 'svc1']);
  // A wildcard LDS narrowed to one name answers with that one only.
  s.ack(got[LDS]!, ['l1']);
  const narrowed = await s.next();
  t.is(narrowed.type_url, LDS);
  t.deepEqual(namesOf(narrowed), ['l1']);
  const st = statusOf(h.ads);
  t.false(st.types[LDS]?.wildcard);
  t.deepEqual(st.types[LDS]?.requested, ['l1']);
  t.true(st.types[CDS]?.wildcard);
  t.deepEqual(st.types[EDS]?.requested, ['c2', 'svc1']);
});

test('an empty name list after the first request unsubscribes', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  const barrier = new Barrier(s);
  s.send({ typeUrl: EDS, names: ['svc1'] });
  const r = await s.next();
  s.ack(r, []);
  await barrier.pass(t);
  t.deepEqual(statusOf(h.ads).types[EDS]?.requested, []);

  h.gen.set(EDS, [loadAssignment('svc1', [['127.0.0.9', 1234]])]);
  h.ads.push(h.gen.push('endpoints moved'));
  await barrier.pass(t);

  s.send({ typeUrl: EDS, names: ['svc1'], nonce: r.nonce });
  const again = await s.next();
  t.is(again.type_url, EDS);
  t.deepEqual(namesOf(again), ['svc1']);
  t.regex(JSON.stringify(again.resources), /127\.0\.0\.9/);
});

/** Subscribes all four types and ACKs each; returns the latest response per type. */
async function subscribeAll(s: RawAdsStream, order: readonly string[]): Promise<Map<string, RawResponse>> {
  const names: Record<string, string[]> = { [CDS]: [], [LDS]: [], [EDS]: ['svc1', 'c2'], [RDS]: ['r1'] };
  const latest = new Map<string, RawResponse>();
  for (const typeUrl of order) {
    s.send({ typeUrl, names: names[typeUrl] ?? [] });
    const r = await s.next();
    if (r.type_url !== typeUrl) throw new Error(`expected ${typeUrl}, got ${r.type_url}`);
    s.ack(r, names[typeUrl] ?? []);
    latest.set(typeUrl, r);
  }
  return latest;
}

test('a push sends only the types whose content changed, and for EDS only the changed assignments', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  const latest = await subscribeAll(s, PUSH_ORDER);
  const barrier = new Barrier(s, RDS, latest.get(RDS));

  h.ads.push(h.gen.push('no change'));
  await barrier.pass(t);

  h.gen.set(EDS, [loadAssignment('svc1', [['127.0.0.7', 8080]]), loadAssignment('c2', [['127.0.0.3', 9090]])]);
  h.ads.push(h.gen.push('svc1 endpoint changed'));
  const r = await s.next();
  t.is(r.type_url, EDS);
  t.deepEqual(namesOf(r), ['svc1'], 'SotW EDS: an assignment left out is kept by the proxy, so c2 is not resent');
  t.deepEqual(statusOf(h.ads).types[EDS]?.resourceNames, ['c2', 'svc1'], 'the proxy holds both');
  await barrier.pass(t);
});

test('a push that changes every type sends CDS, EDS, LDS, RDS in that order', async (t) => {
  const h = await startAds(t);
  const s = h.open();
  await subscribeAll(s, [RDS, LDS, EDS, CDS]);
  basicMesh(h.gen, 15009, 8089);
  h.gen.set(CDS, [edsCluster('c1', 'svc1'), edsCluster('c2'), edsCluster('c9')]);
  h.gen.set(RDS, [routeConfig('r1', 'c9')]);
  h.ads.push(h.gen.push('everything changed'));
  const order: string[] = [];
  for (let i = 0; i < 4; i++) order.push((await s.next()).type_url);
  t.deepEqual(order, [CDS, EDS, LDS, RDS]);
});

const badNodes: { title: string; node: Record<string, unknown> | null }[] = [
  { title: 'no node', node: null },
  { title: 'empty id', node: { id: '' } },
  { title: 'unknown proxy type', node: { id: 'mystery~1.2.3.4~a.ns~ns.svc.cluster.local', cluster: 'east' } },
  { title: 'no cluster', node: { id: 'sidecar~1.2.3.4~a.ns~ns.svc.cluster.local' } },
];

for (const row of badNodes) {
  test(`a stream with an unusable node is rejected with INVALID_ARGUMENT: ${row.title}`, async (t) => {
    const h = await startAds(t);
    const s = h.open({ node: row.node });
    s.send({ typeUrl: CDS });
    const status = await s.status;
    t.is(status.code, grpc.status.INVALID_ARGUMENT);
    t.regex(status.details, /node/);
    t.deepEqual(h.ads.status(), []);
  });
}

test('a proxyless node (GENERATOR=grpc) is typed proxyless', async (t) => {
  const h = await startAds(t);
  const s = h.open({
    node: wireNode({
      type: 'sidecar',
      ip: '127.0.0.11',
      workload: 'client',
      namespace: 'ns1',
      cluster: 'west',
      serviceAccount: 'sa',
      labels: {},
      generator: 'grpc',
    }),
  });
  s.send({ typeUrl: LDS });
  await s.next();
  const st = statusOf(h.ads);
  t.is(st.type, 'proxyless');
  t.is(st.cluster, 'west');
  t.is(st.namespace, 'ns1');
  t.is(h.gen.calls.at(-1)?.node.type, 'proxyless');
});

/** ~100 KB of clusters, marked with `svc-<mark>` so a reader can tell pushes apart. */
function bigClusters(mark: number) {
  return Array.from({ length: 600 }, (_, i) => edsCluster(`outbound|9080||service-${i}.some-long-namespace.svc.cluster.local`, `svc-${mark}`));
}

test('a stream that never reads does not block pushes to another stream', async (t) => {
  const queueLimit = 2;
  const h = await startAds(t, queueLimit);
  h.gen.set(CDS, bigClusters(0));
  const slowNode = { type: 'sidecar', ip: '127.0.0.12', workload: 'slow', namespace: 'default', cluster: 'east', serviceAccount: 'sa', labels: {} } as const;
  const slow = await openStalledAdsStream(h.target, { node: wireNode(slowNode), type_url: CDS });
  t.teardown(() => slow.close());
  const fast = h.open();
  fast.send({ typeUrl: CDS });
  await fast.next();
  while (h.ads.status().length < 2) await new Promise((r) => setTimeout(r, 10));

  const pushes = 40;
  for (let i = 1; i <= pushes; i++) {
    h.gen.set(CDS, bigClusters(i));
    h.ads.push(h.gen.push(`push ${i}`));
    const r = await fast.next();
    const eds = r.resources[0]?.['eds_cluster_config'] as { service_name?: string } | undefined;
    t.is(eds?.service_name, `svc-${i}`, 'the fast stream gets every push');
  }
  const all = h.ads.status();
  const slowSt = all.find((s) => s.workload === 'slow');
  const fastSt = all.find((s) => s.workload !== 'slow');
  t.true((slowSt?.queued ?? Number.POSITIVE_INFINITY) <= queueLimit + 4, 'the slow stream queue stays bounded');
  t.true((slowSt?.coalesced ?? 0) > 0, 'pushes to the slow stream were coalesced');
  t.not(slowSt?.types[CDS]?.versionSent, fastSt?.types[CDS]?.versionSent, 'the slow stream is still stuck behind flow control');
});
