import test from 'ava';
import type { ClusterLoadAssignmentConfig } from '../../src/xds/config-types.ts';
import { validateClusterLoadAssignment } from '../../src/xds/index.ts';
import { type JsonValue, toStruct } from '../../src/xds/struct.ts';
import { TYPE_URL } from '../../src/xds/type-urls.ts';
import { decoded } from './support/decode.ts';

/** `filter_metadata` as it travels (toStruct writes the camelCase Value fields protobufjs encodes). */
const meta = (ns: Record<string, { [k: string]: JsonValue }>) => ({
  filter_metadata: Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, toStruct(v)])),
});
const lb = (address: string, port: number, extra: Record<string, unknown> = {}) => ({
  endpoint: { address: { socket_address: { address, port_value: port } } },
  ...extra,
});
const QSNI = 'ep_.0123456789abcdef_.outbound_.9080_._.reviews.default.svc.cluster.local';
const cla = (endpoints: object[]) => ({ '@type': TYPE_URL.endpoint, cluster_name: 'reviews', endpoints });

const good: { title: string; resource: object; expected: ClusterLoadAssignmentConfig }[] = [
  {
    title: 'mesh endpoint with istio and meshfed metadata',
    resource: cla([
      {
        locality: { region: 'east' },
        load_balancing_weight: { value: 1 },
        lb_endpoints: [
          lb('127.0.1.5', 9080, {
            health_status: 'HEALTHY',
            load_balancing_weight: { value: 5 },
            metadata: meta({
              istio: { tlsMode: 'istio', cluster_id: 'east' },
              meshfed: { inbound_port: 15006, workload: 'reviews-v1', namespace: 'default' },
            }),
          }),
        ],
      },
    ]),
    expected: {
      clusterName: 'reviews',
      endpoints: [
        {
          address: { host: '127.0.1.5', port: 9080 },
          weight: 5,
          healthy: true,
          tlsMode: 'istio',
          cluster: 'east',
          inboundPort: 15006,
          workload: 'reviews-v1',
          namespace: 'default',
          priority: 0,
          locality: { region: 'east' },
          localityWeight: 1,
        },
      ],
    },
  },
  {
    title: 'locality with zone, sub-zone and weight; endpoints of a locality share them',
    resource: cla([
      {
        locality: { region: 'r1', zone: 'east', sub_zone: 'rack-2' },
        load_balancing_weight: { value: 80 },
        priority: 2,
        lb_endpoints: [lb('127.0.1.7', 9080), lb('127.0.1.8', 9080, { health_status: 'DRAINING' })],
      },
    ]),
    expected: {
      clusterName: 'reviews',
      endpoints: [
        { address: { host: '127.0.1.7', port: 9080 }, weight: 1, healthy: true, tlsMode: 'disabled', priority: 2, locality: { region: 'r1', zone: 'east', subZone: 'rack-2' }, localityWeight: 80 },
        { address: { host: '127.0.1.8', port: 9080 }, weight: 1, healthy: false, tlsMode: 'disabled', priority: 2, locality: { region: 'r1', zone: 'east', subZone: 'rack-2' }, localityWeight: 80 },
      ],
    },
  },
  {
    title: 'gateway endpoint in a failover priority, unhealthy plaintext endpoint, string port',
    resource: cla([
      { priority: 1, lb_endpoints: [lb('10.0.0.9', 15443, { metadata: meta({ istio: { tlsMode: 'istio', cluster_id: 'west' } }) })] },
      { lb_endpoints: [lb('127.0.1.6', 9080, { health_status: 'UNHEALTHY', metadata: meta({ meshfed: { inbound_port: '15006' } }) })] },
    ]),
    expected: {
      clusterName: 'reviews',
      endpoints: [
        { address: { host: '10.0.0.9', port: 15443 }, weight: 1, healthy: true, tlsMode: 'istio', cluster: 'west', priority: 1 },
        { address: { host: '127.0.1.6', port: 9080 }, weight: 1, healthy: false, tlsMode: 'disabled', inboundPort: 15006, priority: 0 },
      ],
    },
  },
  {
    title: 'remote endpoints behind one gateway, each with its endpoint-qualified SNI',
    resource: cla([
      {
        lb_endpoints: [
          lb('10.0.0.9', 15443, { metadata: meta({ istio: { tlsMode: 'istio', cluster_id: 'west' }, meshfed: { sni: QSNI, workload: 'reviews-w1' } }) }),
          lb('10.0.0.9', 15443, { metadata: meta({ istio: { tlsMode: 'istio', cluster_id: 'west' }, meshfed: { sni: QSNI.replace('0123', '4567') } }) }),
        ],
      },
    ]),
    expected: {
      clusterName: 'reviews',
      endpoints: [
        { address: { host: '10.0.0.9', port: 15443 }, weight: 1, healthy: true, tlsMode: 'istio', cluster: 'west', workload: 'reviews-w1', sni: QSNI, priority: 0 },
        { address: { host: '10.0.0.9', port: 15443 }, weight: 1, healthy: true, tlsMode: 'istio', cluster: 'west', sni: QSNI.replace('0123', '4567'), priority: 0 },
      ],
    },
  },
  { title: 'no endpoints', resource: cla([]), expected: { clusterName: 'reviews', endpoints: [] } },
];

for (const row of good) {
  test(`valid load assignment: ${row.title}`, (t) => {
    t.deepEqual(validateClusterLoadAssignment(decoded(row.resource)), { ok: true, value: row.expected });
  });
}

const e0 = 'endpoints[0].lb_endpoints[0]';
const bad: { title: string; resource: object; error: string }[] = [
  {
    title: 'an endpoint hostname (feeds auto_host_rewrite and health checks, which meshfed lacks)',
    resource: cla([{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } }, hostname: 'reviews-v1' } }] }]),
    error: `${e0}.endpoint.hostname: unsupported field`,
  },
  { title: 'no cluster name', resource: { '@type': TYPE_URL.endpoint, endpoints: [] }, error: 'cluster_name: missing' },
  {
    title: 'zero locality weight',
    resource: cla([{ load_balancing_weight: { value: 0 }, lb_endpoints: [lb('127.0.0.1', 80)] }]),
    error: 'endpoints[0].load_balancing_weight.value: must be an integer in [1, 4294967295]',
  },
  {
    title: 'load-balancer endpoints (named endpoint sets)',
    resource: cla([{ lb_endpoints: [], load_balancer_endpoints: { lb_endpoints: [] } }]),
    error: 'endpoints[0].load_balancer_endpoints: unsupported field',
  },
  {
    title: 'a policy (drop overloads)',
    resource: { ...cla([]), policy: { overprovisioning_factor: { value: 200 } } },
    error: 'policy: unsupported field',
  },
  {
    title: 'zero endpoint weight',
    resource: cla([{ lb_endpoints: [lb('127.0.0.1', 80, { load_balancing_weight: { value: 0 } })] }]),
    error: `${e0}.load_balancing_weight.value: must be an integer in [1, 4294967295]`,
  },
  {
    title: 'no port',
    resource: cla([{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1' } } } }] }]),
    error: `${e0}.endpoint.address.socket_address.port_value: missing`,
  },
  {
    title: 'no address',
    resource: cla([{ lb_endpoints: [{ endpoint: {} }] }]),
    error: `${e0}.endpoint.address: missing`,
  },
  {
    title: 'a non-numeric inbound port',
    resource: cla([{ lb_endpoints: [lb('127.0.0.1', 80, { metadata: meta({ meshfed: { inbound_port: 'abc' } }) })] }]),
    error: `${e0}.metadata.filter_metadata.meshfed.inbound_port: must be a port number`,
  },
  {
    title: 'meshfed.sni that is a plain service SNI (the cluster already sends that)',
    resource: cla([{ lb_endpoints: [lb('10.0.0.9', 15443, { metadata: meta({ istio: { tlsMode: 'istio' }, meshfed: { sni: QSNI.slice('ep_.0123456789abcdef_.'.length) } }) })] }]),
    error: `${e0}.metadata.filter_metadata.meshfed.sni: must be an endpoint-qualified SNI (ep_.<id>_.outbound_.<port>_.<subset>_.<host>)`,
  },
  {
    title: 'meshfed.sni that is not a string',
    resource: cla([{ lb_endpoints: [lb('10.0.0.9', 15443, { metadata: meta({ istio: { tlsMode: 'istio' }, meshfed: { sni: 7 } }) })] }]),
    error: `${e0}.metadata.filter_metadata.meshfed.sni: must be an endpoint-qualified SNI (ep_.<id>_.outbound_.<port>_.<subset>_.<host>)`,
  },
  {
    title: 'meshfed.sni on a plaintext endpoint (no TLS, so no SNI to send)',
    resource: cla([{ lb_endpoints: [lb('10.0.0.9', 15443, { metadata: meta({ meshfed: { sni: QSNI } }) })] }]),
    error: `${e0}.metadata.filter_metadata.meshfed.sni: needs istio.tlsMode istio: only a mesh mTLS endpoint sends an SNI`,
  },
  {
    title: 'meshfed.sni with an inbound port (a local sidecar, not a gateway)',
    resource: cla([{ lb_endpoints: [lb('127.0.0.1', 9080, { metadata: meta({ istio: { tlsMode: 'istio' }, meshfed: { sni: QSNI, inbound_port: 15006 } }) })] }]),
    error: `${e0}.metadata.filter_metadata.meshfed.sni: cannot be combined with meshfed.inbound_port: an endpoint-qualified SNI is sent to a gateway`,
  },
  {
    title: 'a named port',
    resource: cla([{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'a', named_port: 'http' } } } }] }]),
    error: `${e0}.endpoint.address.socket_address.named_port: unsupported field`,
  },
];

for (const row of bad) {
  test(`invalid load assignment: ${row.title}`, (t) => {
    const r = validateClusterLoadAssignment(decoded(row.resource));
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.includes(row.error), `got: ${r.errors.join(' | ')}`);
  });
}

test('struct values decode camelCase and snake_case spellings alike', (t) => {
  const snake = { filter_metadata: { istio: { fields: { tlsMode: { string_value: 'istio' } } } } };
  const r = validateClusterLoadAssignment({ cluster_name: 'x', endpoints: [{ lb_endpoints: [{ ...lb('1.2.3.4', 5), metadata: snake }] }] });
  t.true(r.ok && r.value.endpoints[0]?.tlsMode === 'istio');
});
