/**
 * buildSnapshot over registry shards of services and endpoints as the kube registry writes them:
 * multi-port services, endpoints at their target ports, locality in the labels, and health (only
 * healthy endpoints are served; every endpoint stays in its workload's own index).
 */
import test from 'ava';
import { buildSnapshot } from '../../src/pilot/model/index.ts';
import type { RegistryEndpoint, RegistryService, RegistryShard } from '../../src/pilot/registry/index.ts';
import { clustersOf, endpointsOf } from './support/fixtures.ts';
import { proxyNode } from './support/snapshot-builder.ts';

const H = 'reviews.bookinfo.svc.cluster.local';

const reviews: RegistryService = Object.freeze({
  hostname: H,
  name: 'reviews',
  namespace: 'bookinfo',
  cluster: 'east',
  ports: [
    { name: 'http', port: 80, targetPort: 'web', protocol: 'http' as const },
    { name: 'grpc-api', port: 50051, protocol: 'grpc' as const },
  ],
  labels: { app: 'reviews' },
  addresses: ['10.96.0.10'],
});

const ep = (workload: string, address: string, servicePort: number, port: number, more: Partial<RegistryEndpoint> = {}): RegistryEndpoint =>
  Object.freeze({
    hostname: H,
    servicePortName: servicePort === 80 ? 'http' : 'grpc-api',
    servicePort,
    address,
    port,
    labels: Object.freeze({ app: 'reviews', version: workload.slice(-2) }),
    serviceAccount: 'bookinfo-reviews',
    workload,
    namespace: 'bookinfo',
    cluster: 'east',
    locality: Object.freeze({ region: 'eu', zone: 'eu-1', subZone: '' }),
    sidecar: true,
    health: 'healthy' as const,
    ...more,
  });

const shard: RegistryShard = {
  registry: 'kube',
  cluster: 'east',
  services: [reviews],
  endpoints: [
    ep('reviews-v1', '10.1.0.5', 80, 9080),
    ep('reviews-v1', '10.1.0.5', 50051, 50051),
    ep('reviews-v2', '10.1.0.6', 80, 9080, { health: 'unhealthy' }),
    ep('reviews-v3', '10.1.0.7', 80, 9080, { health: 'terminating', locality: { region: 'us', zone: 'us-1', subZone: 'a' } }),
  ],
  imported: [],
};

const snap = buildSnapshot({ cluster: 'east', trustDomain: 'cluster.local', domainSuffix: 'cluster.local', shards: [shard], config: [], version: 'v1' });

test('a multi-port registry service becomes one service with every port and its protocol', (t) => {
  t.deepEqual(snap.services.get(H), { hostname: H, name: 'reviews', namespace: 'bookinfo', ports: [{ port: 80, protocol: 'http' }, { port: 50051, protocol: 'grpc' }] });
});

test('only healthy endpoints are served, at their target port, with cluster and locality labels', (t) => {
  t.deepEqual(
    (snap.endpoints.get(H) ?? []).map((e) => [e.workload, e.port, e.kind === 'local' ? `${e.address}:${e.targetPort ?? e.port}` : '', e.labels]),
    [
      [
        'reviews-v1',
        80,
        '10.1.0.5:9080',
        { app: 'reviews', version: 'v1', 'topology.istio.io/cluster': 'east', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1' },
      ],
      [
        'reviews-v1',
        50051,
        '10.1.0.5:50051',
        { app: 'reviews', version: 'v1', 'topology.istio.io/cluster': 'east', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1' },
      ],
    ],
  );
});

test('unhealthy and terminating endpoints stay in their workload’s own index', (t) => {
  t.deepEqual([...snap.workloads.keys()], ['east/bookinfo/reviews-v1', 'east/bookinfo/reviews-v2', 'east/bookinfo/reviews-v3']);
  t.deepEqual(snap.workloads.get('east/bookinfo/reviews-v3')?.map((e) => e.labels['topology.istio.io/subzone']), ['a']);
});

test('EDS dials the target port in the endpoint’s locality; the proxy’s inbound cluster dials its app at the target port', (t) => {
  const client = proxyNode('sidecar', { workload: 'productpage-v1', namespace: 'bookinfo', cluster: 'east' });
  const cla = endpointsOf(client, snap).get(`outbound|80||${H}`);
  t.deepEqual(
    cla?.endpoints?.map((l) => [l.locality, l.lb_endpoints?.map((e) => e.endpoint?.address?.socket_address)]),
    [[{ region: 'eu', zone: 'eu-1' }, [{ address: '10.1.0.5', port_value: 9080 }]]],
  );
  const own = proxyNode('sidecar', { workload: 'reviews-v1', namespace: 'bookinfo', cluster: 'east', ip: '10.1.0.5' });
  const inbound = clustersOf(own, snap).get('inbound|80||');
  t.deepEqual(inbound?.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address, { address: '10.1.0.5', port_value: 9080 });
});
