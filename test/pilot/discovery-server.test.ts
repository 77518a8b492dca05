// Addresses: 127.79.1.1 (ports from listen(0)).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { Registry } from 'prom-client';
import { issueServingCertificate } from '../../src/citadel/index.ts';
import type { WorkloadRegistryFile, WorkloadSpec } from '../../src/common/workload.ts';
import { createDiscoveryServer, type DiscoveryServer } from '../../src/pilot/index.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { makeCa, silentLogger, tempDir } from '../citadel/fixtures.ts';
import { RawAdsStream, type RawResponse, namesOf, wireNode } from '../xds/support/raw-ads-stream.ts';

const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = TYPE_URL;
const ADDRESS = '127.79.1.1';

function workload(name: string, service: string, address: string, labels: Record<string, string> = {}): WorkloadSpec {
  return {
    name,
    namespace: 'default',
    serviceAccount: service,
    cluster: 'east',
    address,
    labels: { app: service, ...labels },
    service: { name: service, port: 9080, protocol: 'http' },
    sidecar: true,
  };
}

const BASE: WorkloadSpec[] = [
  workload('productpage-v1', 'productpage', '127.79.1.10'),
  workload('reviews-v1', 'reviews', '127.79.1.11', { version: 'v1' }),
  workload('ratings-v1', 'ratings', '127.79.1.12'),
];

const SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
`;

interface Fixture {
  server: DiscoveryServer;
  configDir: string;
  writeWorkloads(list: WorkloadSpec[]): void;
  metrics: Registry;
}

async function start(t: ExecutionContext): Promise<Fixture> {
  const dir = await tempDir(t);
  const { ca } = await makeCa(t);
  const configDir = path.join(dir, 'config');
  mkdirSync(configDir);
  const registryFile = path.join(dir, 'workloads.json');
  const writeWorkloads = (workloads: WorkloadSpec[]): void => {
    const file: WorkloadRegistryFile = { cluster: 'east', gatewayAddress: '127.79.1.2', workloads };
    writeFileSync(`${registryFile}.tmp`, JSON.stringify(file));
    writeFileSync(registryFile, JSON.stringify(file));
  };
  writeWorkloads(BASE);
  const serving = issueServingCertificate({ ca, dnsNames: ['istiod.istio-system.svc'], ipAddresses: [ADDRESS], spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/istiod', ttlSeconds: 3600 });
  const metrics = new Registry();
  const server = await createDiscoveryServer({
    cluster: 'east',
    trustDomain: 'cluster.local',
    address: ADDRESS,
    registryFile,
    configDir,
    serving,
    clientRootsPem: ca.rootPem,
    ports: { xdsPlain: 0, xdsTls: 0 },
    metrics,
    debounceMs: 10,
    logger: silentLogger,
  });
  t.teardown(() => server.close());
  t.not(server.xdsReady(), true, 'not ready before listen');
  await server.listen();
  t.is(server.xdsReady(), true);
  return { server, configDir, writeWorkloads, metrics };
}

/** A productpage sidecar subscribed to all four types, every answer ACKed. */
async function subscribed(t: ExecutionContext, target: string): Promise<{ s: RawAdsStream; latest: Map<string, RawResponse> }> {
  const s = new RawAdsStream(target, {
    node: wireNode({ type: 'sidecar', ip: '127.79.1.10', workload: 'productpage-v1', namespace: 'default', cluster: 'east', serviceAccount: 'productpage', labels: {} }),
  });
  t.teardown(() => s.close());
  const latest = new Map<string, RawResponse>();
  s.send({ typeUrl: CDS });
  const cds = await s.next();
  s.ack(cds);
  latest.set(CDS, cds);
  const edsNames = namesOf(cds).filter((n) => n.startsWith('outbound|'));
  for (const [typeUrl, names] of [
    [EDS, edsNames],
    [LDS, []],
    [RDS, ['outbound']],
  ] as const) {
    s.send({ typeUrl, names: [...names] });
    const r = await s.next();
    t.is(r.type_url, typeUrl);
    s.ack(r, [...names]);
    latest.set(typeUrl, r);
  }
  return { s, latest };
}


test('an endpoint-only change pushes EDS alone, with only the changed assignment; a config change pushes the changed types in order, from one snapshot', async (t) => {
  const f = await start(t);
  const { s, latest } = await subscribed(t, f.server.addresses.plain);

  f.writeWorkloads([...BASE, workload('reviews-v1b', 'reviews', '127.79.1.13', { version: 'v1' })]);
  const eds = await s.next();
  t.is(eds.type_url, EDS, 'EDS comes first and alone');
  t.deepEqual(namesOf(eds), ['outbound|9080||reviews.default.svc.cluster.local'], 'only the changed assignment');
  t.regex(JSON.stringify(eds.resources), /127\.79\.1\.13/);
  s.ack(eds, namesOf(latest.get(CDS)!).filter((n) => n.startsWith('outbound|')));
  s.send({ typeUrl: RDS, names: ['outbound', 'barrier-1'], nonce: latest.get(RDS)?.nonce ?? '' });
  const barrier = await s.next();
  t.is(barrier.type_url, RDS, 'nothing but EDS was pushed: the barrier answer comes next');
  t.is(barrier.version_info, eds.version_info, 'answered from the same snapshot');
  s.ack(barrier, ['outbound']);
  const narrowed = await s.next();
  t.is(narrowed.type_url, RDS, 'dropping the barrier name is answered');
  s.ack(narrowed, ['outbound']);

  writeFileSync(path.join(f.configDir, 'reviews.yaml'), SUBSETS);
  const cds = await s.next();
  t.is(cds.type_url, CDS, 'a config change pushes CDS first');
  t.true(namesOf(cds).includes('outbound|9080|v1|reviews.default.svc.cluster.local'));
  s.ack(cds);
  const rds = await s.next();
  t.is(rds.type_url, RDS, 'then RDS: the assignments subscribed to and the listeners did not change');
  t.is(rds.version_info, cds.version_info, 'both from one snapshot');
  t.regex(JSON.stringify(rds.resources), /outbound\|9080\|v1\|reviews/);
  s.ack(rds, ['outbound']);
  // The proxy now asks for the new subset's assignment (as clients widen EDS after CDS).
  const edsNames = namesOf(cds).filter((n) => n.startsWith('outbound|'));
  s.send({ typeUrl: EDS, names: edsNames, nonce: eds.nonce });
  const wider = await s.next();
  t.is(wider.type_url, EDS);
  t.is(wider.version_info, cds.version_info, 'answered from the snapshot the stream is on');
  t.deepEqual(namesOf(wider), edsNames.sort(), 'an answer to a request carries every subscribed assignment');
  s.ack(wider, edsNames);

  const metrics = await f.metrics.getMetricsAsJSON();
  const pushes = metrics.find((m) => m.name === 'pilot_xds_pushes');
  const byType = Object.fromEntries((pushes?.values ?? []).map((v) => [String(v.labels['type']), v.value]));
  t.is(byType['eds'], 1, 'answers to requests are not pushes');
  t.is(byType['cds'], 1);
  t.is(byType['rds'], 1);
  t.is(byType['lds'], undefined);
  t.truthy(metrics.find((m) => m.name === 'pilot_proxy_convergence_time'));
  t.is(metrics.find((m) => m.name === 'pilot_xds')?.values[0]?.value, 1);
});
