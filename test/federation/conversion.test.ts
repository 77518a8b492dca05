import test from 'ava';
import {
  type ConsulRegistration,
  fromHealthEntries,
  type ImportedEndpoint,
  type LocalExportState,
  toRegistrations,
} from '../../src/federation/index.ts';
import { endpointIdOf } from '../../src/xds/naming.ts';

/** endpointIdOf('east', 'default', 'reviews-v1'), pinned: a change would break mixed-version peers. */
const V1_ID = '10279775cd5d93f4';

const reviews = {
  namespace: 'default',
  name: 'reviews',
  hostname: 'reviews.default.svc.cluster.local',
  ports: [
    { port: 9080, protocol: 'http' as const },
    { port: 50051, protocol: 'grpc' as const },
  ],
  endpoints: [
    { workload: 'reviews-v1', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v1' } },
    { workload: 'reviews-v2', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v2' } },
  ],
};

function state(exports: LocalExportState['exports'], gateway = { address: '127.0.10.1', port: 15443 }): LocalExportState {
  return { cluster: 'east', gateway, exports };
}

/** A `/v1/health/service/<name>` entry for a registration, as Consul answers it. */
function entryFor(r: ConsulRegistration, dc: string, status = 'passing', serf = 'passing'): unknown {
  return {
    Node: { ID: 'x', Node: dc, Address: '127.60.0.1', Datacenter: dc },
    Service: { ID: r.id, Service: r.name, Tags: r.tags, Address: r.address, Port: r.port, Meta: r.meta, Weights: {} },
    Checks: [
      { Node: dc, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: serf, ServiceID: '' },
      { Node: dc, CheckID: r.check.id, Name: 'ttl', Status: status, ServiceID: r.id },
    ],
  };
}

test('toRegistrations: one instance per endpoint, addressed at the gateway', (t) => {
  const { registrations, rejected } = toRegistrations(state([reviews]), { ttlSeconds: 3 });
  t.deepEqual(rejected, []);
  t.is(registrations.length, 2);
  const [v1] = registrations;
  t.deepEqual(v1, {
    id: 'east/default/reviews/reviews-v1',
    name: 'reviews',
    address: '127.0.10.1',
    port: 15443,
    tags: ['meshfed', 'ns:default'],
    meta: {
      namespace: 'default',
      cluster: 'east',
      service: 'reviews',
      ports: 'http:9080,grpc:50051',
      sni_host: 'reviews.default.svc.cluster.local',
      workload: 'reviews-v1',
      service_account: 'bookinfo-reviews',
      labels: JSON.stringify({ app: 'reviews', version: 'v1', 'topology.istio.io/cluster': 'east' }),
      endpoint_id: V1_ID,
    },
    check: { id: 'meshfed:east/default/reviews/reviews-v1', ttl: '3s', status: 'passing', deregisterCriticalServiceAfter: '60s' },
  });
  for (const r of registrations) {
    for (const [key, value] of Object.entries(r.meta)) {
      t.regex(key, /^[a-zA-Z0-9_-]+$/, 'Consul meta keys allow only letters, digits, - and _');
      t.true(value.length <= 512);
    }
  }
});

const rejectionTable: {
  title: string;
  input: LocalExportState;
  registered: string[];
  rejected: RegExp[];
}[] = [
  {
    title: 'labels whose JSON exceeds 512 characters reject that endpoint only',
    input: state([
      {
        ...reviews,
        endpoints: [
          { workload: 'big', serviceAccount: 'sa', labels: { blob: 'x'.repeat(600) } },
          { workload: 'small', serviceAccount: 'sa', labels: {} },
        ],
      },
    ]),
    registered: ['east/default/reviews/small'],
    rejected: [/endpoints\[0\]: meta labels is \d+ characters, Consul allows 512/],
  },
  {
    title: 'an invalid port rejects the whole service',
    input: state([{ ...reviews, ports: [{ port: 70000, protocol: 'http' }] }]),
    registered: [],
    rejected: [/exports\[0\]\.ports\[0\]\.port: invalid 70000/],
  },
  {
    title: 'a service without ports is rejected',
    input: state([{ ...reviews, ports: [] }]),
    registered: [],
    rejected: [/exports\[0\]\.ports: at least one port/],
  },
  {
    title: 'a duplicate workload is rejected once',
    input: state([{ ...reviews, endpoints: [reviews.endpoints[0]!, reviews.endpoints[0]!] }]),
    registered: ['east/default/reviews/reviews-v1'],
    rejected: [/endpoints\[1\]\.workload: duplicate reviews-v1/],
  },
  {
    title: 'a workload name holding a slash is rejected (it would break the ID)',
    input: state([{ ...reviews, endpoints: [{ workload: 'a/b', serviceAccount: 'sa', labels: {} }] }]),
    registered: [],
    rejected: [/endpoints\[0\]\.workload: invalid/],
  },
  {
    title: 'an invalid gateway rejects everything',
    input: state([reviews], { address: '', port: 15443 }),
    registered: [],
    rejected: [/^gateway: invalid gateway/],
  },
  {
    title: 'a service without endpoints registers nothing and is not an error',
    input: state([{ ...reviews, endpoints: [] }]),
    registered: [],
    rejected: [],
  },
];

for (const row of rejectionTable) {
  test(`toRegistrations: ${row.title}`, (t) => {
    const { registrations, rejected } = toRegistrations(row.input, { ttlSeconds: 15 });
    t.deepEqual(
      registrations.map((r) => r.id),
      row.registered,
    );
    t.is(rejected.length, row.rejected.length, rejected.join('\n'));
    for (const [i, pattern] of row.rejected.entries()) t.regex(rejected[i] ?? '', pattern);
  });
}

const [v1, v2] = toRegistrations(state([reviews]), { ttlSeconds: 15 }).registrations;
if (!v1 || !v2) throw new Error('fixture');

const expectedV1: ImportedEndpoint[] = (
  [
    [9080, 'http'],
    [50051, 'grpc'],
  ] as const
).map(([port, protocol]) => ({
  cluster: 'east',
  namespace: 'default',
  service: 'reviews',
  hostname: 'reviews.default.svc.cluster.local',
  port,
  protocol,
  gateway: { address: '127.0.10.1', port: 15443 },
  labels: { app: 'reviews', version: 'v1', 'topology.istio.io/cluster': 'east' },
  workload: 'reviews-v1',
  serviceAccount: 'bookinfo-reviews',
  endpointId: V1_ID,
}));

test('endpointIdOf: 16 hex digits, stable, distinct per cluster, namespace and workload', (t) => {
  t.is(endpointIdOf('east', 'default', 'reviews-v1'), V1_ID);
  const ids = new Set([
    endpointIdOf('east', 'default', 'reviews-v1'),
    endpointIdOf('west', 'default', 'reviews-v1'),
    endpointIdOf('east', 'other', 'reviews-v1'),
    endpointIdOf('east', 'default', 'reviews-v2'),
  ]);
  t.is(ids.size, 4);
  for (const id of ids) t.regex(id, /^[0-9a-f]{16}$/);
});

function withMeta(r: ConsulRegistration, meta: Record<string, string>): ConsulRegistration {
  return { ...r, meta: { ...r.meta, ...meta } };
}

const healthTable: {
  title: string;
  entries: unknown[];
  endpoints: ImportedEndpoint[];
  skipped: RegExp[];
  unhealthy: string[];
}[] = [
  {
    title: 'a passing instance imports one endpoint per service port, via the gateway',
    entries: [entryFor(v1, 'east')],
    endpoints: expectedV1,
    skipped: [],
    unhealthy: [],
  },
  {
    title: 'a critical TTL check (a dead cluster) drops the instance',
    entries: [entryFor(v1, 'east'), entryFor(v2, 'east', 'critical')],
    endpoints: expectedV1,
    skipped: [],
    unhealthy: ['east/default/reviews/reviews-v2'],
  },
  {
    title: 'a critical node check drops the instance too',
    entries: [entryFor(v1, 'east', 'passing', 'critical')],
    endpoints: [],
    skipped: [],
    unhealthy: ['east/default/reviews/reviews-v1'],
  },
  {
    title: 'a warning check is not passing',
    entries: [entryFor(v1, 'east', 'warning')],
    endpoints: [],
    skipped: [],
    unhealthy: ['east/default/reviews/reviews-v1'],
  },
  {
    title: 'an entry without Service is skipped and reported, the rest imported',
    entries: [{ Node: { Node: 'east' }, Checks: [] }, entryFor(v1, 'east')],
    endpoints: expectedV1,
    skipped: [/^\[0\]: Service/],
    unhealthy: [],
  },
  {
    title: 'a non-numeric port is skipped',
    entries: [{ ...(entryFor(v1, 'east') as object), Service: { ID: 'x', Service: 'reviews', Address: 'a', Port: '80' } }],
    endpoints: [],
    skipped: [/^\[0\]: Service\.Port/],
    unhealthy: [],
  },
  {
    title: 'an instance from an exporter without endpoint_id (older peer) imports without an endpoint id',
    entries: [entryFor({ ...v1, meta: Object.fromEntries(Object.entries(v1.meta).filter(([k]) => k !== 'endpoint_id')) }, 'east')],
    endpoints: expectedV1.map(({ endpointId: _, ...rest }) => rest),
    skipped: [],
    unhealthy: [],
  },
  {
    title: 'an endpoint_id that is not 16 hex digits is skipped, naming the key',
    entries: [entryFor(withMeta(v1, { endpoint_id: 'ZZ' }), 'east'), entryFor(withMeta(v2, { endpoint_id: `${V1_ID}0` }), 'east')],
    endpoints: [],
    skipped: [/Meta\.endpoint_id: must be 16 lower-case hex digits/, /Meta\.endpoint_id/],
    unhealthy: [],
  },
  {
    title: 'labels that are not JSON are skipped',
    entries: [entryFor(withMeta(v1, { labels: '{not json' }), 'east')],
    endpoints: [],
    skipped: [/Meta\.labels: not a JSON map/],
    unhealthy: [],
  },
  {
    title: 'labels with non-string values are skipped',
    entries: [entryFor(withMeta(v1, { labels: '{"a":1}' }), 'east')],
    endpoints: [],
    skipped: [/Meta\.labels/],
    unhealthy: [],
  },
  {
    title: 'a tcp port imports with its protocol (the importer then builds a tcp_proxy for it)',
    entries: [entryFor(withMeta(v1, { ports: 'tcp:9000' }), 'east')],
    endpoints: [{ ...(expectedV1[0] as ImportedEndpoint), port: 9000, protocol: 'tcp' }],
    skipped: [],
    unhealthy: [],
  },
  {
    title: 'a ports meta naming a protocol outside the model is skipped',
    entries: [entryFor(withMeta(v1, { ports: 'udp:53' }), 'east')],
    endpoints: [],
    skipped: [/Meta\.ports: invalid/],
    unhealthy: [],
  },
  {
    title: 'an invalid ports meta is skipped',
    entries: [entryFor(withMeta(v1, { ports: 'http:abc' }), 'east')],
    endpoints: [],
    skipped: [/Meta\.ports: invalid/],
    unhealthy: [],
  },
  {
    title: 'missing meta keys are skipped, naming the key',
    entries: [entryFor({ ...v1, meta: { cluster: 'east' } }, 'east')],
    endpoints: [],
    skipped: [/Meta\.namespace/],
    unhealthy: [],
  },
  {
    title: 'an instance claiming another cluster than its datacenter is skipped',
    entries: [entryFor(withMeta(v1, { cluster: 'west' }), 'east')],
    endpoints: [],
    skipped: [/Meta\.cluster west does not match datacenter east/],
    unhealthy: [],
  },
  {
    title: 'instances without the meshfed tag are not ours: ignored, not reported',
    entries: [entryFor({ ...v1, tags: ['other'] }, 'east')],
    endpoints: [],
    skipped: [],
    unhealthy: [],
  },
  {
    title: 'null Tags, Meta and Checks (as Consul may send) are accepted as empty',
    entries: [{ Node: { Node: 'east' }, Service: { ID: 'y', Service: 'y', Tags: null, Address: '', Port: 0, Meta: null }, Checks: null }],
    endpoints: [],
    skipped: [],
    unhealthy: [],
  },
];

for (const row of healthTable) {
  test(`fromHealthEntries: ${row.title}`, (t) => {
    const result = fromHealthEntries('east', row.entries);
    if (!result.ok) {
      t.fail(result.errors.join('\n'));
      return;
    }
    t.deepEqual(result.value.endpoints, row.endpoints);
    t.deepEqual(result.value.unhealthy, row.unhealthy);
    t.is(result.value.skipped.length, row.skipped.length, result.value.skipped.join('\n'));
    for (const [i, pattern] of row.skipped.entries()) t.regex(result.value.skipped[i] ?? '', pattern);
  });
}

for (const body of [null, {}, 'text', 42]) {
  test(`fromHealthEntries: a body that is not an array fails (${JSON.stringify(body)})`, (t) => {
    const result = fromHealthEntries('east', body);
    t.false(result.ok);
    if (!result.ok) t.regex(result.errors[0] ?? '', /expected an array/);
  });
}

test('toRegistrations then fromHealthEntries round-trips every endpoint', (t) => {
  const { registrations } = toRegistrations(state([reviews]), { ttlSeconds: 15 });
  const result = fromHealthEntries(
    'east',
    registrations.map((r) => entryFor(r, 'east')),
  );
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(
    result.value.endpoints.map((e) => `${e.workload}:${e.port}:${e.labels['version']}`),
    ['reviews-v1:9080:v1', 'reviews-v1:50051:v1', 'reviews-v2:9080:v2', 'reviews-v2:50051:v2'],
  );
});
