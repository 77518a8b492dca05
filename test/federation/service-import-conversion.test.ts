import test from 'ava';
import type { ImportedEndpoint } from '../../src/federation/federation-interface.ts';
import { toServiceImports } from '../../src/federation/index.ts';
import { serviceImportSpecSchema } from '../../src/pilot/config/config-schema-service-import.ts';

const ep = (cluster: string, service: string, port: number, protocol?: ImportedEndpoint['protocol'], namespace = 'default'): ImportedEndpoint => ({
  cluster,
  namespace,
  service,
  hostname: `${service}.${namespace}.svc.cluster.local`,
  port,
  ...(protocol !== undefined ? { protocol } : {}),
  gateway: { address: '127.0.0.1', port: 15443 },
  labels: { 'topology.istio.io/cluster': cluster },
  workload: `${service}-${cluster}-0`,
  serviceAccount: service,
});

const CASES: [string, Record<string, ImportedEndpoint[]>, unknown][] = [
  ['nothing imported', {}, []],
  [
    'one service from one cluster',
    { west: [ep('west', 'reviews', 9080, 'http'), ep('west', 'reviews', 9080, 'http')] },
    [
      {
        namespace: 'default',
        name: 'reviews',
        spec: { type: 'ClusterSetIP', ports: [{ port: 9080, protocol: 'TCP', appProtocol: 'http' }] },
        status: { clusters: [{ cluster: 'west' }] },
      },
    ],
  ],
  [
    'the union of ports across clusters, sorted; clusters sorted; tcp has no appProtocol; no protocol is http',
    { west: [ep('west', 'db', 5432, 'tcp'), ep('west', 'db', 9000)], east: [ep('east', 'db', 8443, 'grpc'), ep('east', 'db', 5432, 'tcp')] },
    [
      {
        namespace: 'default',
        name: 'db',
        spec: {
          type: 'ClusterSetIP',
          ports: [
            { port: 5432, protocol: 'TCP' },
            { port: 8443, protocol: 'TCP', appProtocol: 'grpc' },
            { port: 9000, protocol: 'TCP', appProtocol: 'http' },
          ],
        },
        status: { clusters: [{ cluster: 'east' }, { cluster: 'west' }] },
      },
    ],
  ],
  [
    'a port declared differently takes the protocol of the first cluster by name',
    { west: [ep('west', 'api', 8080, 'http')], east: [ep('east', 'api', 8080, 'http2')] },
    [
      {
        namespace: 'default',
        name: 'api',
        spec: { type: 'ClusterSetIP', ports: [{ port: 8080, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' }] },
        status: { clusters: [{ cluster: 'east' }, { cluster: 'west' }] },
      },
    ],
  ],
  [
    'one ServiceImport per namespace/name, sorted',
    { west: [ep('west', 'b', 80, 'tls', 'shop'), ep('west', 'a', 80, 'grpc-web', 'shop'), ep('west', 'a', 80, 'http', 'default')] },
    [
      { namespace: 'default', name: 'a', spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP', appProtocol: 'http' }] }, status: { clusters: [{ cluster: 'west' }] } },
      { namespace: 'shop', name: 'a', spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP', appProtocol: 'grpc-web' }] }, status: { clusters: [{ cluster: 'west' }] } },
      { namespace: 'shop', name: 'b', spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP', appProtocol: 'tls' }] }, status: { clusters: [{ cluster: 'west' }] } },
    ],
  ],
];

for (const [what, input, want] of CASES) {
  test(`toServiceImports: ${what}`, (t) => {
    const got = toServiceImports(new Map(Object.entries(input)));
    t.deepEqual(got, want);
    for (const s of got) t.true(serviceImportSpecSchema.safeParse(s.spec).success, 'the spec passes the ServiceImport CRD schema');
  });
}
