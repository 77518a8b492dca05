// Addresses: 127.79.0.1 (ports from listen(0)).
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { pino } from 'pino';
import { AdsServer } from '../../src/pilot/ads/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { TestGenerator, type TestSnapshot, edsCluster, httpListener, loadAssignment, routeConfig } from '../xds/support/fixtures.ts';
import type { RawResponse } from '../xds/support/raw-ads-stream.ts';
import { wireNode } from '../xds/support/raw-ads-stream.ts';
import { openSlowAdsStream } from '../xds/support/slow-ads-stream.ts';
import { waitFor } from '../xds/support/ads-harness.ts';

const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = TYPE_URL;

/**
 * Snapshot `mark`: every type says which snapshot it came from. CDS is ~100 KB (more than one
 * HTTP/2 window), so a stream that stops reading blocks the server in the middle of a push.
 */
function setMesh(gen: TestGenerator, mark: number, big: boolean): void {
  const clusters = Array.from({ length: big ? 600 : 2 }, (_, i) =>
    edsCluster(`outbound|9080||service-${i}.some-long-namespace.svc.cluster.local`, `svc-${mark}`),
  );
  gen.set(CDS, clusters);
  gen.set(EDS, [loadAssignment('svc1', [['127.79.0.9', 1000 + mark]])]);
  gen.set(LDS, [httpListener('l1', 15000 + mark, 'r1')]);
  gen.set(RDS, [routeConfig('r1', `mark-${mark}`)]);
}

/** The snapshot mark a response's content carries. */
function markOf(r: RawResponse): number {
  const text = JSON.stringify(r.resources);
  const m =
    r.type_url === CDS
      ? /"service_name":"svc-(\d+)"/.exec(text)
      : r.type_url === EDS
        ? /"port_value":1(\d{3})/.exec(text)
        : r.type_url === LDS
          ? /"port_value":15(\d{3})/.exec(text)
          : /"cluster":"mark-(\d+)"/.exec(text);
  return Number(m?.[1] ?? Number.NaN);
}

test('a stream blocked mid-push sends every type of that push from one snapshot, then the newest whole', async (t) => {
  const gen = new TestGenerator();
  setMesh(gen, 0, false);
  const marks = new Map<string, number>([[gen.snapshot().version, 0]]);
  const ads = new AdsServer<TestSnapshot>({ generate: gen.generate, snapshot: gen.snapshot(), logger: pino({ level: 'silent' }) });
  const server = new grpc.Server();
  ads.addTo(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.79.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const s = await openSlowAdsStream(`127.79.0.1:${port}`);
  t.teardown(() => {
    s.close();
    ads.close();
    server.forceShutdown();
  });

  const subscriptions: [string, string[]][] = [
    [CDS, []],
    [EDS, ['svc1']],
    [LDS, []],
    [RDS, ['r1']],
  ];
  for (const [i, [typeUrl, names]] of subscriptions.entries()) {
    s.send({ type_url: typeUrl, resource_names: names, ...(i === 0 ? { node: wireNode() } : {}) });
  }
  await waitFor(() => s.responses.length === 4, 'the four answers');
  s.hold();

  // Snapshot 1: its push writes CDS and then waits for flow control.
  setMesh(gen, 1, true);
  marks.set(gen.snapshot().version, 1);
  ads.push(gen.push('snapshot 1'));
  await waitFor(() => gen.calls.some((c) => c.typeUrl === CDS && marks.get(c.version) === 1), 'CDS of snapshot 1 generated');
  // Snapshots 2 and 3 arrive while the stream is stuck.
  for (const mark of [2, 3]) {
    setMesh(gen, mark, true);
    marks.set(gen.snapshot().version, mark);
    ads.push(gen.push(`snapshot ${mark}`));
  }
  s.release();
  await waitFor(() => s.responses.some((r) => r.type_url === RDS && markOf(r) === 3), 'RDS of snapshot 3');

  const seen = s.responses.slice(4).map((r) => ({ type: r.type_url.split('.').at(-1), mark: markOf(r), version: marks.get(r.version_info) }));
  // Every response's content is the snapshot its version_info names.
  for (const r of seen) t.is<number | undefined, number | undefined>(r.mark, r.version, `${r.type} content and version_info agree`);
  // Within one push (from one CDS to the next) every type comes from the same snapshot.
  let pushMark: number | undefined;
  for (const r of seen) {
    if (r.type === 'Cluster') pushMark = r.mark;
    else t.is<number | undefined, number | undefined>(r.mark, pushMark, `${r.type} comes from the snapshot of the CDS before it`);
  }
  t.deepEqual(
    seen.map((r) => `${r.type}@${r.mark}`),
    ['Cluster@1', 'ClusterLoadAssignment@1', 'Listener@1', 'RouteConfiguration@1', 'Cluster@3', 'ClusterLoadAssignment@3', 'Listener@3', 'RouteConfiguration@3'],
    'snapshot 1 whole, then snapshot 3 whole: snapshot 2 is skipped',
  );
});
