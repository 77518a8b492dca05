import type { V1EndpointSlice, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import test from 'ava';
import {
  convertEndpointSlice,
  convertService,
  type EndpointContext,
  endpointHealth,
  podHasSidecar,
  podLocality,
} from '../../../src/pilot/registry/kube/conversion.ts';
import type { RegistryEndpoint, RegistryService } from '../../../src/pilot/registry/index.ts';

const service = (spec: V1Service['spec'], labels: Record<string, string> = {}): V1Service => ({
  metadata: { name: 'reviews', namespace: 'bookinfo', labels },
  spec,
});

type ServiceRow = [title: string, svc: V1Service, want: ReturnType<typeof convertService>];

const H = 'reviews.bookinfo.svc.cluster.local';
const base = { hostname: H, name: 'reviews', namespace: 'bookinfo', cluster: 'east' };

const serviceRows: ServiceRow[] = [
  [
    'multi-port: each port with its targetPort and the protocol of its appProtocol or name, sorted by port',
    service(
      {
        clusterIP: '10.96.0.10',
        ports: [
          { name: 'grpc-api', port: 50051, targetPort: 'grpc' },
          { name: 'web', port: 80, targetPort: 9080, appProtocol: 'kubernetes.io/h2c' },
          { name: 'tcp-db', port: 5432 },
        ],
      },
      { app: 'reviews' },
    ),
    {
      kind: 'service',
      service: {
        ...base,
        ports: [
          { name: 'web', port: 80, targetPort: 9080, protocol: 'http2' },
          { name: 'tcp-db', port: 5432, protocol: 'tcp' },
          { name: 'grpc-api', port: 50051, targetPort: 'grpc', protocol: 'grpc' },
        ],
        labels: { app: 'reviews' },
        addresses: ['10.96.0.10'],
      },
    },
  ],
  [
    'an unnamed single port defaults to http; dual-stack VIPs come from clusterIPs',
    service({ clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10', 'fd00::10'], ports: [{ port: 9080 }] }),
    { kind: 'service', service: { ...base, ports: [{ name: '', port: 9080, protocol: 'http' }], labels: {}, addresses: ['10.96.0.10', 'fd00::10'] } },
  ],
  [
    'headless: no addresses',
    service({ clusterIP: 'None', ports: [{ name: 'http', port: 9080 }] }),
    { kind: 'service', service: { ...base, ports: [{ name: 'http', port: 9080, protocol: 'http' }], labels: {}, addresses: [] } },
  ],
  [
    'UDP and SCTP ports are left out',
    service({ clusterIP: '10.96.0.10', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'x', port: 9, protocol: 'SCTP' }, { name: 'tcp', port: 9080, protocol: 'TCP' }] }),
    { kind: 'service', service: { ...base, ports: [{ name: 'tcp', port: 9080, protocol: 'tcp' }], labels: {}, addresses: ['10.96.0.10'] } },
  ],
  [
    'ExternalName is ignored, not an error',
    service({ type: 'ExternalName', externalName: 'db.example.com' }),
    { kind: 'ignored', reason: 'Service bookinfo/reviews: type ExternalName is not a mesh service' },
  ],
  [
    'an unknown appProtocol is refused with its path',
    service({ ports: [{ name: 'http', port: 80 }, { name: 'x', port: 81, appProtocol: 'thrift' }] }),
    {
      kind: 'invalid',
      errors: ['Service bookinfo/reviews: spec.ports[1].appProtocol: unknown protocol "thrift": must be one of http, http2, grpc, grpc-web, tcp, tls, https, mongo, redis, mysql'],
    },
  ],
  [
    'a udp- name on a TCP port is refused with its path',
    service({ ports: [{ name: 'udp-x', port: 80 }] }),
    { kind: 'invalid', errors: ['Service bookinfo/reviews: spec.ports[0].name: "udp-x": UDP is not proxied (Istio does not proxy it either)'] },
  ],
];

for (const [title, svc, want] of serviceRows) {
  test(`convertService: ${title}`, (t) => {
    t.deepEqual(convertService(svc, 'east', 'cluster.local'), want);
  });
}

test('convertService: the result is frozen', (t) => {
  const r = convertService(service({ ports: [{ name: 'http', port: 80 }] }), 'east', 'cluster.local');
  t.true(r.kind === 'service' && Object.isFrozen(r.service) && Object.isFrozen(r.service.ports) && Object.isFrozen(r.service.ports[0]));
});

const registryService = (svc: V1Service): RegistryService => {
  const r = convertService(svc, 'east', 'cluster.local');
  if (r.kind !== 'service') throw new Error('fixture service does not convert');
  return r.service;
};

const reviews = registryService(
  service({
    clusterIP: '10.96.0.10',
    ports: [
      { name: 'http', port: 80, targetPort: 'web' },
      { name: 'tcp-metrics', port: 9100, targetPort: 9100 },
    ],
  }),
);

const pod = (name: string, more: { labels?: Record<string, string>; annotations?: Record<string, string>; node?: string; sa?: string } = {}): V1Pod => ({
  metadata: {
    name,
    namespace: 'bookinfo',
    labels: { app: 'reviews', ...more.labels },
    annotations: { ...(more.annotations ?? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' }) },
  },
  spec: {
    ...(more.sa !== undefined ? { serviceAccountName: more.sa } : {}),
    ...(more.node !== undefined ? { nodeName: more.node } : {}),
    containers: [{ name: 'app', ports: [{ name: 'web', containerPort: 9080 }] }],
  },
});

const nodes: Record<string, V1Node> = {
  n1: { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1', 'topology.istio.io/subzone': 'rack7' } } },
};

const context = (pods: V1Pod[], publishNotReadyAddresses = false): EndpointContext => ({
  cluster: 'east',
  service: reviews,
  publishNotReadyAddresses,
  pod: (ns, name) => pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name),
  node: (name) => nodes[name],
});

const slice = (endpoints: V1EndpointSlice['endpoints'], ports: V1EndpointSlice['ports'], addressType = 'IPv4'): V1EndpointSlice => ({
  metadata: { name: 'reviews-abc', namespace: 'bookinfo', labels: { 'kubernetes.io/service-name': 'reviews' } },
  addressType,
  endpoints,
  ports,
});

const podRef = (name: string) => ({ kind: 'Pod', name, namespace: 'bookinfo' });

const endpoint = (more: Partial<RegistryEndpoint>): RegistryEndpoint => ({
  hostname: H,
  servicePortName: 'http',
  servicePort: 80,
  address: '10.1.0.5',
  port: 9080,
  labels: { app: 'reviews' },
  serviceAccount: 'default',
  workload: 'reviews-v1',
  namespace: 'bookinfo',
  cluster: 'east',
  locality: { region: '', zone: '', subZone: '' },
  sidecar: true,
  health: 'healthy',
  ...more,
});

type SliceRow = [title: string, slice: V1EndpointSlice, pods: V1Pod[], want: RegistryEndpoint[], publishNotReady?: boolean];

const sliceRows: SliceRow[] = [
  [
    'one endpoint per (address, service port), with the slice’s resolved ports',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http', port: 9080 }, { name: 'tcp-metrics', port: 9100 }]),
    [pod('reviews-v1')],
    [endpoint({}), endpoint({ servicePortName: 'tcp-metrics', servicePort: 9100, port: 9100 })],
  ],
  [
    'a named targetPort without a number in the slice is resolved through the pod’s container ports',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http' }]),
    [pod('reviews-v1')],
    [endpoint({})],
  ],
  [
    'a named targetPort the pod does not declare gives no endpoint for that port',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http' }]),
    [{ ...pod('reviews-v1'), spec: { containers: [{ name: 'app' }] } }],
    [],
  ],
  [
    'a slice port naming no service port is skipped',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'other', port: 1234 }]),
    [pod('reviews-v1')],
    [],
  ],
  [
    'service account, labels and locality from the pod and its node',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1'), nodeName: 'n1' }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1', { sa: 'bookinfo-reviews', labels: { version: 'v1' } })],
    [endpoint({ serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v1' }, locality: { region: 'eu', zone: 'eu-1', subZone: 'rack7' } })],
  ],
  [
    'the pod’s istio-locality label overrides its node (node from the pod spec)',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1', { node: 'n1', labels: { 'istio-locality': 'us.us-2.a' } })],
    [endpoint({ labels: { app: 'reviews', 'istio-locality': 'us.us-2.a' }, locality: { region: 'us', zone: 'us-2', subZone: 'a' } })],
  ],
  [
    'a pod without the sidecar status annotation has no sidecar',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1', { annotations: {} })],
    [endpoint({ sidecar: false })],
  ],
  [
    'security.istio.io/tlsMode: disabled wins over the annotation',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1', { labels: { 'security.istio.io/tlsMode': 'disabled' } })],
    [endpoint({ sidecar: false, labels: { app: 'reviews', 'security.istio.io/tlsMode': 'disabled' } })],
  ],
  [
    'not ready is unhealthy; not ready and terminating is terminating; ready unset is healthy',
    slice(
      [
        { addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1'), conditions: { ready: false, serving: false, terminating: false } },
        { addresses: ['10.1.0.6'], targetRef: podRef('reviews-v2'), conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.1.0.7'], targetRef: podRef('reviews-v3') },
      ],
      [{ name: 'http', port: 9080 }],
    ),
    [pod('reviews-v1'), pod('reviews-v2'), pod('reviews-v3')],
    [
      endpoint({ health: 'unhealthy' }),
      endpoint({ address: '10.1.0.6', workload: 'reviews-v2', health: 'terminating' }),
      endpoint({ address: '10.1.0.7', workload: 'reviews-v3' }),
    ],
  ],
  [
    'publishNotReadyAddresses makes a not-ready endpoint healthy',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1'), conditions: { ready: false } }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1')],
    [endpoint({})],
    true,
  ],
  [
    'an endpoint whose pod is not known yet is left out',
    slice([{ addresses: ['10.1.0.5'], targetRef: podRef('reviews-v1') }, { addresses: ['10.1.0.6'], targetRef: podRef('unknown') }], [{ name: 'http', port: 9080 }]),
    [pod('reviews-v1')],
    [endpoint({})],
  ],
  [
    'an endpoint without a targetRef has no labels, account or sidecar',
    slice([{ addresses: ['10.1.0.9'] }], [{ name: 'http', port: 9080 }]),
    [],
    [endpoint({ address: '10.1.0.9', workload: '10.1.0.9', labels: {}, serviceAccount: '', sidecar: false })],
  ],
  ['FQDN slices are ignored', slice([{ addresses: ['db.example.com'] }], [{ name: 'http', port: 9080 }], 'FQDN'), [], []],
];

for (const [title, s, pods, want, publishNotReady] of sliceRows) {
  test(`convertEndpointSlice: ${title}`, (t) => {
    t.deepEqual(convertEndpointSlice(s, context(pods, publishNotReady ?? false)), want);
  });
}

test('endpointHealth, podLocality and podHasSidecar read absent objects as Istio does', (t) => {
  t.is(endpointHealth(undefined, false), 'healthy');
  t.is(endpointHealth({ ready: true, terminating: true }, false), 'healthy');
  t.deepEqual(podLocality(undefined, undefined), { region: '', zone: '', subZone: '' });
  t.false(podHasSidecar(undefined));
});
