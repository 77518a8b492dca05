import test from 'ava';
import { type DestinationRuleConfig, parseConfigText, type TrafficPolicy } from '../../src/pilot/config/index.ts';

/** DestinationRule `trafficPolicy`: every supported field, and the rejected ones with their paths. */

const DR = (policy: string): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
${policy}`;

function policyOf(text: string): TrafficPolicy | undefined {
  const r = parseConfigText(text, 'dr.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return (r.value[0] as DestinationRuleConfig).spec.trafficPolicy;
}

const valid: { title: string; policy: string; expected: TrafficPolicy }[] = [
  { title: 'simple LEAST_CONN → LEAST_REQUEST', policy: '    loadBalancer: {simple: LEAST_CONN}', expected: { loadBalancer: { simple: 'LEAST_REQUEST' }, portLevelSettings: [] } },
  {
    title: 'consistentHash header (lower-cased), ring hash by default',
    policy: '    loadBalancer: {consistentHash: {httpHeaderName: X-User}}',
    expected: { loadBalancer: { consistentHash: { key: { kind: 'header', name: 'x-user' }, algorithm: { kind: 'ring-hash' } } }, portLevelSettings: [] },
  },
  {
    title: 'consistentHash cookie with path and ttl, ringHash.minimumRingSize',
    policy: '    loadBalancer: {consistentHash: {httpCookie: {name: s, path: /a, ttl: 10s}, ringHash: {minimumRingSize: 64}}}',
    expected: {
      loadBalancer: { consistentHash: { key: { kind: 'cookie', name: 's', path: '/a', ttlMs: 10000 }, algorithm: { kind: 'ring-hash', minimumRingSize: 64 } } },
      portLevelSettings: [],
    },
  },
  {
    title: 'consistentHash source IP with deprecated minimumRingSize',
    policy: '    loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 128}}',
    expected: { loadBalancer: { consistentHash: { key: { kind: 'source-ip' }, algorithm: { kind: 'ring-hash', minimumRingSize: 128 } } }, portLevelSettings: [] },
  },
  {
    title: 'consistentHash query parameter with maglev',
    policy: '    loadBalancer: {consistentHash: {httpQueryParameterName: u, maglev: {tableSize: 65537}}}',
    expected: { loadBalancer: { consistentHash: { key: { kind: 'query', name: 'u' }, algorithm: { kind: 'maglev', tableSize: 65537 } } }, portLevelSettings: [] },
  },
  {
    title: 'localityLbSetting failoverPriority, enabled by default, key=value kept apart',
    policy: '    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster, "topology.istio.io/network=n1"]}}',
    expected: {
      loadBalancer: {
        localityLbSetting: { enabled: true, distribute: [], failover: [], failoverPriority: [{ label: 'topology.istio.io/cluster' }, { label: 'topology.istio.io/network', value: 'n1' }] },
      },
      portLevelSettings: [],
    },
  },
  {
    title: 'localityLbSetting distribute with wildcards beside simple',
    policy: '    loadBalancer: {simple: RANDOM, localityLbSetting: {distribute: [{from: "us-east/*", to: {"us-east/z1/*": 80, "us-west/*": 20}}]}}',
    expected: {
      loadBalancer: {
        simple: 'RANDOM',
        localityLbSetting: {
          enabled: true,
          distribute: [{ from: 'us-east/*', to: [{ locality: 'us-east/z1/*', weight: 80 }, { locality: 'us-west/*', weight: 20 }] }],
          failover: [],
          failoverPriority: [],
        },
      },
      portLevelSettings: [],
    },
  },
  {
    title: 'localityLbSetting failover between regions, disabled',
    policy: '    loadBalancer: {localityLbSetting: {enabled: false, failover: [{from: us-east, to: us-west}]}}',
    expected: {
      loadBalancer: { localityLbSetting: { enabled: false, distribute: [], failover: [{ from: 'us-east', to: 'us-west' }], failoverPriority: [] } },
      portLevelSettings: [],
    },
  },
  {
    title: 'localityLbSetting failover together with failoverPriority (Istio: label rank, then locality)',
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: us-east, to: us-west}], failoverPriority: [topology.istio.io/cluster, version=v2]}}',
    expected: {
      loadBalancer: {
        localityLbSetting: {
          enabled: true,
          distribute: [],
          failover: [{ from: 'us-east', to: 'us-west' }],
          failoverPriority: [{ label: 'topology.istio.io/cluster' }, { label: 'version', value: 'v2' }],
        },
      },
      portLevelSettings: [],
    },
  },
  {
    title: 'connectionPool, every supported field',
    policy: `    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms}
      http: {http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRequestsPerConnection: 3, maxRetries: 4, idleTimeout: 1m}`,
    expected: {
      connectionPool: {
        tcp: { maxConnections: 10, connectTimeoutMs: 250 },
        http: { http1MaxPendingRequests: 1, http2MaxRequests: 2, maxRequestsPerConnection: 3, maxRetries: 4, idleTimeoutMs: 60000 },
      },
      portLevelSettings: [],
    },
  },
  {
    title: 'outlierDetection, every supported field',
    policy: `    outlierDetection:
      consecutiveErrors: 1
      consecutive5xxErrors: 2
      consecutiveGatewayErrors: 3
      interval: 5s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
      minHealthPercent: 20`,
    expected: {
      outlierDetection: {
        consecutiveErrors: 1,
        consecutive5xxErrors: 2,
        consecutiveGatewayErrors: 3,
        intervalMs: 5000,
        baseEjectionTimeMs: 30000,
        maxEjectionPercent: 50,
        minHealthPercent: 20,
      },
      portLevelSettings: [],
    },
  },
  {
    title: 'portLevelSettings',
    policy: `    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {simple: RANDOM}
      outlierDetection: {consecutive5xxErrors: 1}`,
    expected: { portLevelSettings: [{ port: 9080, loadBalancer: { simple: 'RANDOM' }, outlierDetection: { consecutive5xxErrors: 1 } }] },
  },
];

for (const row of valid) {
  test(`valid traffic policy: ${row.title}`, (t) => {
    t.deepEqual(policyOf(DR(row.policy)), row.expected);
  });
}

test('subsets carry their own traffic policy', (t) => {
  const r = parseConfigText(
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {connectionPool: {http: {http2MaxRequests: 1}}}`,
    'dr.yaml',
  );
  t.true(r.ok);
  if (r.ok) {
    t.deepEqual((r.value[0] as DestinationRuleConfig).spec.subsets[0]?.trafficPolicy, {
      connectionPool: { http: { http2MaxRequests: 1 } },
      portLevelSettings: [],
    });
  }
});

const P = 'dr.yaml: DestinationRule default/reviews: spec.trafficPolicy';
const L = `${P}.loadBalancer.localityLbSetting`;
const invalid: { title: string; policy: string; expected: string }[] = [
  { title: 'PASSTHROUGH', policy: '    loadBalancer: {simple: PASSTHROUGH}', expected: `${P}.loadBalancer.simple: must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM` },
  {
    title: 'localityLbSetting: distribute and failover together',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "r1/*", to: {"r1/*": 100}}], failover: [{from: r1, to: r2}]}}',
    expected: `${L}.failover: can not simultaneously specify 'distribute' and 'failover'`,
  },
  {
    title: 'localityLbSetting: distribute weights not summing to 100',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "r1/*", to: {"r1/z1/*": 60, "r2/*": 30}}]}}',
    expected: `${L}.distribute[0].to: total locality weight 90 != 100`,
  },
  {
    title: 'localityLbSetting: a zero weight',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "*", to: {"r1/*": 100, "r2/*": 0}}]}}',
    expected: `${L}.distribute[0].to.r2/*: locality weight must be an integer 1..100`,
  },
  {
    title: 'localityLbSetting: wildcard not at the end',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "*/z1", to: {"r1/*": 100}}]}}',
    expected: `${L}.distribute[0].from: locality */z1: wildcard '*' may appear once, at the end`,
  },
  {
    title: 'localityLbSetting: empty zone',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "r1//z", to: {"r1/*": 100}}]}}',
    expected: `${L}.distribute[0].from: locality r1//z must not contain empty region/zone/subzone info`,
  },
  {
    title: 'localityLbSetting: overlapping from localities',
    policy: '    loadBalancer: {localityLbSetting: {distribute: [{from: "r1/*", to: {"r1/*": 100}}, {from: "r1/z1", to: {"r1/*": 100}}]}}',
    expected: `${L}.distribute[1].from: locality r1/z1 overlaps with r1/*`,
  },
  {
    title: 'localityLbSetting: failover to the same region',
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r1}]}}',
    expected: `${L}.failover[0]: locality lb failover settings must specify different regions`,
  },
  {
    title: 'localityLbSetting: failover names a zone',
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: r1/z1, to: r2}]}}',
    expected: `${L}.failover[0]: locality failover only specify region`,
  },
  {
    title: 'localityLbSetting: failover with a wildcard',
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: "*"}]}}',
    expected: `${L}.failover[0]: locality failover region should not contain '*' wildcard`,
  },
  {
    title: 'localityLbSetting: failover with a region label in failoverPriority',
    policy: '    loadBalancer: {localityLbSetting: {failover: [{from: r1, to: r2}], failoverPriority: [topology.kubernetes.io/region]}}',
    expected: `${L}.failoverPriority[0]: can not simultaneously set 'failover' and topology label 'topology.kubernetes.io/region' in 'failoverPriority'`,
  },
  {
    title: 'localityLbSetting: duplicate failoverPriority label',
    policy: '    loadBalancer: {localityLbSetting: {failoverPriority: [topology.istio.io/cluster, topology.istio.io/cluster]}}',
    expected: `${L}.failoverPriority[1]: duplicate label topology.istio.io/cluster`,
  },
  {
    title: 'localityLbSetting: unknown field',
    policy: '    loadBalancer: {localityLbSetting: {enable: true}}',
    expected: `${L}.enable: unknown field`,
  },
  { title: 'warmupDurationSecs', policy: '    loadBalancer: {simple: ROUND_ROBIN, warmupDurationSecs: 10s}', expected: `${P}.loadBalancer.warmupDurationSecs: field is not supported by meshfed yet` },
  { title: 'simple and consistentHash together', policy: '    loadBalancer: {simple: RANDOM, consistentHash: {useSourceIp: true}}', expected: `${P}.loadBalancer.consistentHash: simple and consistentHash are exclusive` },
  {
    title: 'consistentHash without a key',
    policy: '    loadBalancer: {consistentHash: {minimumRingSize: 10}}',
    expected: `${P}.loadBalancer.consistentHash: exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set`,
  },
  {
    title: 'consistentHash with two keys',
    policy: '    loadBalancer: {consistentHash: {httpHeaderName: x, useSourceIp: true}}',
    expected: `${P}.loadBalancer.consistentHash: exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName must be set`,
  },
  {
    title: 'ringHash and maglev together',
    policy: '    loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 8}, maglev: {tableSize: 251}}}',
    expected: `${P}.loadBalancer.consistentHash.maglev: cannot be combined with ringHash`,
  },
  {
    title: 'maglev table size not prime',
    policy: '    loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 1000}}}',
    expected: `${P}.loadBalancer.consistentHash.maglev.tableSize: must be a prime number below 5000011`,
  },
  {
    title: 'ring larger than 8M',
    policy: '    loadBalancer: {consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 9000000}}}',
    expected: `${P}.loadBalancer.consistentHash.ringHash.minimumRingSize: must be an integer 1..8388608`,
  },
  {
    title: 'cookie attributes',
    policy: '    loadBalancer: {consistentHash: {httpCookie: {name: s, attributes: [{name: SameSite}]}}}',
    expected: `${P}.loadBalancer.consistentHash.httpCookie.attributes: unknown field`,
  },
  { title: 'tcp keepalive', policy: '    connectionPool: {tcp: {tcpKeepalive: {time: 1s}}}', expected: `${P}.connectionPool.tcp.tcpKeepalive: field is not supported by meshfed yet` },
  { title: 'tcp idleTimeout', policy: '    connectionPool: {tcp: {idleTimeout: 1s}}', expected: `${P}.connectionPool.tcp.idleTimeout: field is not supported by meshfed yet` },
  { title: 'h2UpgradePolicy', policy: '    connectionPool: {http: {h2UpgradePolicy: UPGRADE}}', expected: `${P}.connectionPool.http.h2UpgradePolicy: field is not supported by meshfed yet` },
  { title: 'maxConcurrentStreams', policy: '    connectionPool: {http: {maxConcurrentStreams: 5}}', expected: `${P}.connectionPool.http.maxConcurrentStreams: field is not supported by meshfed yet` },
  { title: 'negative maxConnections', policy: '    connectionPool: {tcp: {maxConnections: -1}}', expected: `${P}.connectionPool.tcp.maxConnections: must be a non-negative integer` },
  {
    title: 'splitExternalLocalOriginErrors',
    policy: '    outlierDetection: {splitExternalLocalOriginErrors: true}',
    expected: `${P}.outlierDetection.splitExternalLocalOriginErrors: field is not supported by meshfed yet`,
  },
  { title: 'maxEjectionPercent above 100', policy: '    outlierDetection: {maxEjectionPercent: 101}', expected: `${P}.outlierDetection.maxEjectionPercent: must be an integer 0..100` },
  { title: 'zero interval', policy: '    outlierDetection: {interval: 0s}', expected: `${P}.outlierDetection.interval: must be positive` },
  { title: 'tls credentialName', policy: '    tls: {mode: SIMPLE, credentialName: cnn}', expected: `${P}.tls.credentialName: credentialName (certificates from a Kubernetes secret) is not supported yet: use file paths` },
  {
    title: 'duplicate port-level port',
    policy: `    portLevelSettings:
    - port: {number: 80}
    - port: {number: 80}`,
    expected: `${P}.portLevelSettings[1].port: duplicate port 80`,
  },
  {
    title: 'port-level tls caCrl',
    policy: `    portLevelSettings:
    - port: {number: 80}
      tls: {mode: SIMPLE, caCrl: /etc/crl.pem}`,
    expected: `${P}.portLevelSettings[0].tls.caCrl: caCrl (certificate revocation lists) is not supported yet`,
  },
];

for (const row of invalid) {
  test(`invalid traffic policy: ${row.title}`, (t) => {
    const r = parseConfigText(DR(row.policy), 'dr.yaml');
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.map(String).includes(row.expected), `got: ${r.errors.map(String).join(' | ')}`);
  });
}
