import test from 'ava';
import type { WorkloadSpec } from '../../src/common/workload.ts';
import { type RegistryEndpoint, type RegistryService, workloadEndpoint, workloadServices, workloadShard } from '../../src/pilot/registry/index.ts';

const w = (name: string, more: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
  name,
  namespace: 'default',
  serviceAccount: 'reviews',
  cluster: 'east',
  address: '127.0.1.1',
  labels: { app: 'reviews' },
  service: { name: 'reviews', port: 9080, protocol: 'http' },
  sidecar: true,
  ...more,
});

const H = 'reviews.default.svc.cluster.local';
const endpoint = (more: Partial<RegistryEndpoint> = {}): RegistryEndpoint => ({
  hostname: H,
  servicePortName: 'http-9080',
  servicePort: 9080,
  address: '127.0.1.1',
  port: 9080,
  labels: { app: 'reviews' },
  serviceAccount: 'reviews',
  workload: 'reviews-v1',
  namespace: 'default',
  cluster: 'east',
  locality: { region: '', zone: '', subZone: '' },
  sidecar: true,
  health: 'healthy',
  ...more,
});

const endpointRows: [string, WorkloadSpec, string, RegistryEndpoint][] = [
  ['a sidecar workload: one healthy endpoint on its service port', w('reviews-v1'), 'cluster.local', endpoint()],
  ['the domain suffix names the hostname', w('reviews-v1'), 'mesh.example', endpoint({ hostname: 'reviews.default.svc.mesh.example' })],
  [
    'a proxyless tcp workload: no sidecar, port named after its protocol',
    w('db-v1', { sidecar: false, service: { name: 'reviews', port: 5432, protocol: 'tcp' } }),
    'cluster.local',
    endpoint({ workload: 'db-v1', servicePortName: 'tcp-5432', servicePort: 5432, port: 5432, sidecar: false }),
  ],
  [
    'locality from the workload’s own topology labels',
    w('reviews-v1', { labels: { app: 'reviews', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1', 'topology.istio.io/subzone': 'r7' } }),
    'cluster.local',
    endpoint({
      labels: { app: 'reviews', 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1', 'topology.istio.io/subzone': 'r7' },
      locality: { region: 'eu', zone: 'eu-1', subZone: 'r7' },
    }),
  ],
];
for (const [title, spec, suffix, want] of endpointRows) {
  test(`workloadEndpoint: ${title}`, (t) => {
    t.deepEqual(workloadEndpoint(spec, suffix), want);
  });
}

const service = (ports: RegistryService['ports']): RegistryService => ({
  hostname: H,
  name: 'reviews',
  namespace: 'default',
  cluster: 'east',
  ports,
  labels: {},
  addresses: [],
});

const serviceRows: [string, WorkloadSpec[], RegistryService[]][] = [
  ['one workload: one service, one port', [w('a')], [service([{ name: 'http-9080', port: 9080, protocol: 'http' }])]],
  [
    'workloads of one service on two ports: one multi-port service, sorted by port',
    [w('a', { service: { name: 'reviews', port: 9090, protocol: 'grpc' } }), w('b')],
    [
      service([
        { name: 'http-9080', port: 9080, protocol: 'http' },
        { name: 'grpc-9090', port: 9090, protocol: 'grpc' },
      ]),
    ],
  ],
  [
    'the first workload declaring a port sets its protocol',
    [w('a'), w('b', { service: { name: 'reviews', port: 9080, protocol: 'tcp' } })],
    [service([{ name: 'http-9080', port: 9080, protocol: 'http' }])],
  ],
  [
    'two services, in order of first appearance',
    [w('r'), w('p', { service: { name: 'productpage', port: 9080, protocol: 'http' } })],
    [
      service([{ name: 'http-9080', port: 9080, protocol: 'http' }]),
      { ...service([{ name: 'http-9080', port: 9080, protocol: 'http' }]), hostname: 'productpage.default.svc.cluster.local', name: 'productpage' },
    ],
  ],
];
for (const [title, specs, want] of serviceRows) {
  test(`workloadServices: ${title}`, (t) => {
    t.deepEqual(workloadServices(specs, 'cluster.local'), want);
  });
}

test('workloadEndpoint keeps one endpoint object per frozen WorkloadSpec object (and none for a mutable one)', (t) => {
  const frozen = Object.freeze({ ...w('a'), labels: Object.freeze({ app: 'reviews' }), service: Object.freeze({ name: 'reviews', port: 9080, protocol: 'http' as const }) });
  t.is(workloadEndpoint(frozen, 'cluster.local'), workloadEndpoint(frozen, 'cluster.local'));
  t.not(workloadEndpoint(frozen, 'cluster.local'), workloadEndpoint(frozen, 'mesh.example'));
  const mutable = w('a');
  t.not(workloadEndpoint(mutable, 'cluster.local'), workloadEndpoint(mutable, 'cluster.local'));
});

test('workloadShard is frozen through its lists', (t) => {
  const shard = workloadShard({ registry: 'file', cluster: 'east', workloads: [w('a')], domainSuffix: 'cluster.local', gatewayAddress: '127.0.2.1' });
  t.is(shard.gatewayAddress, '127.0.2.1');
  t.true(Object.isFrozen(shard) && Object.isFrozen(shard.services) && Object.isFrozen(shard.endpoints) && Object.isFrozen(shard.endpoints[0]));
});
