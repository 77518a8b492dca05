import test from 'ava';
import { parseConfigText, resolveHost } from '../../src/pilot/config/index.ts';
import type { ConfigObject, DestinationRuleConfig, VirtualServiceConfig } from '../../src/pilot/config/index.ts';

const VS = (spec: string, meta = 'name: reviews'): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {${meta}}\nspec:\n${spec}`;

function parseOk(text: string): ConfigObject[] {
  const r = parseConfigText(text, 'west/reviews.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.value;
}

function errorsOf(text: string): string[] {
  const r = parseConfigText(text, 'west/reviews.yaml');
  return r.ok ? [] : r.errors.map(String);
}

const invalid: { title: string; text: string; expected: string[] }[] = [
  {
    title: 'weight that is not an integer names its path',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v2}
      weight: 50.5`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].route[1].weight: must be an integer 0..100'],
  },
  {
    title: 'weights that do not sum to 100',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v2}
      weight: 40`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].route: weights must sum to 100 (they sum to 90)'],
  },
  {
    title: 'missing weight among several destinations',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 100
    - destination: {host: reviews, subset: v2}`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].route[1].weight: required when a route has several destinations'],
  },
  {
    title: 'unknown field is rejected with its path',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, colour: blue}`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].route[0].destination.colour: unknown field'],
  },
  {
    title: 'Istio field meshfed does not support is rejected, not ignored',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    delegate: {name: reviews-delegate}`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].delegate: field is not supported by meshfed yet'],
  },
  {
    title: 'gateway-bound VirtualService',
    text: VS(`  hosts: [reviews]
  gateways: [mesh, ingress]
  http:
  - route:
    - destination: {host: reviews}`),
    expected: [
      'west/reviews.yaml: VirtualService default/reviews: spec.gateways[1]: only "mesh" is supported; gateway-bound VirtualServices are not supported yet',
    ],
  },
  {
    title: 'uri match with both exact and prefix',
    text: VS(`  hosts: [reviews]
  http:
  - match: [{uri: {exact: /a, prefix: /b}}]
    route:
    - destination: {host: reviews}`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].match[0].uri: exactly one of exact, prefix, regex must be set'],
  },
  {
    title: 'bad timeout',
    text: VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    timeout: soon`),
    expected: ['west/reviews.yaml: VirtualService default/reviews: spec.http[0].timeout: must be a duration such as 5s or 250ms'],
  },
  {
    title: 'DestinationRule trafficPolicy sections meshfed does not support',
    text: `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    tunnel: {protocol: CONNECT, targetHost: x, targetPort: 80}`,
    expected: ['west/reviews.yaml: DestinationRule shop/reviews: spec.trafficPolicy.tunnel: field is not supported by meshfed yet'],
  },
  {
    title: 'DestinationRule unknown load balancer',
    text: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}`,
    expected: [
      'west/reviews.yaml: DestinationRule default/reviews: spec.trafficPolicy.loadBalancer.simple: must be one of ROUND_ROBIN, LEAST_REQUEST, RANDOM',
    ],
  },
  {
    title: 'duplicate subset names',
    text: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v1, labels: {version: v2}}]`,
    expected: ['west/reviews.yaml: DestinationRule default/reviews: spec.subsets[1].name: duplicate subset v1'],
  },
  {
    title: 'supported-later kinds are named',
    text: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: eastwest, namespace: istio-system}
spec: {}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: default}
spec: {}`,
    expected: [
      'west/reviews.yaml: Gateway istio-system/eastwest: kind Gateway is not supported yet',
      'west/reviews.yaml: EnvoyFilter default/default: kind EnvoyFilter is not supported yet',
    ],
  },
  {
    title: 'unknown kind and unknown version',
    text: `apiVersion: example.com/v1
kind: Widget
metadata: {name: w}
---
apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: {name: r}`,
    expected: [
      'west/reviews.yaml: Widget default/w: kind: unknown kind Widget in example.com/v1',
      'west/reviews.yaml: VirtualService default/r: apiVersion: networking.istio.io/v2 is not a supported version of VirtualService (use networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3)',
    ],
  },
  {
    title: 'ServiceExport with a spec',
    text: `apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews}
spec: {mode: all}`,
    expected: ['west/reviews.yaml: ServiceExport default/reviews: spec.mode: unknown field'],
  },
  {
    title: 'status block is rejected',
    text: `apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews}
status: {}`,
    expected: ['west/reviews.yaml: ServiceExport default/reviews: status: field is not supported by meshfed yet'],
  },
  {
    title: 'YAML syntax error',
    text: 'kind: VirtualService\nspec: [\n',
    expected: ['west/reviews.yaml: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1'],
  },
];

for (const c of invalid) {
  test(`rejects: ${c.title}`, (t) => {
    t.deepEqual(errorsOf(c.text), c.expected);
  });
}

test('error codes separate unsupported from invalid', (t) => {
  const r = parseConfigText(
    VS(`  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    delegate: {}
    bogus: 1`),
    'x.yaml',
  );
  t.false(r.ok);
  if (r.ok) return;
  t.deepEqual(
    r.errors.map((e) => [e.code, e.path, e.kind, e.name]),
    [
      ['CONFIG_UNSUPPORTED', 'spec.http[0].delegate', 'VirtualService', 'default/reviews'],
      ['CONFIG_INVALID', 'spec.http[0].bogus', 'VirtualService', 'default/reviews'],
    ],
  );
});

test('a valid VirtualService is normalized: hosts resolved, weights and timeouts filled in', (t) => {
  const [vs] = parseOk(
    VS(
      `  hosts: [reviews, reviews.other, reviews.other.svc, www.example.com]
  http:
  - name: jason
    match:
    - name: by-user
      uri: {prefix: /api}
      headers: {end-user: {exact: jason}}
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
    timeout: 250ms
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 75
    - destination: {host: ratings.other, subset: v3}
      weight: 25
    timeout: 1.5s`,
      'name: reviews, namespace: shop, labels: {team: a}',
    ),
  );
  t.deepEqual(vs as VirtualServiceConfig, {
    kind: 'VirtualService',
    apiVersion: 'networking.istio.io/v1',
    source: 'west/reviews.yaml',
    metadata: { name: 'reviews', namespace: 'shop', labels: { team: 'a' }, annotations: {} },
    spec: {
      exportTo: ['*'],
      hosts: [
        'reviews.shop.svc.cluster.local',
        // Istio takes any host with a dot as fully qualified: no expansion of `reviews.other(.svc)`.
        'reviews.other',
        'reviews.other.svc',
        'www.example.com',
      ],
      gateways: ['mesh'],
      http: [
        {
          name: 'jason',
          match: [
            { name: 'by-user', uri: { prefix: '/api' }, headers: { 'end-user': { exact: 'jason' } }, withoutHeaders: {}, queryParams: {}, ignoreUriCase: false },
          ],
          route: [{ destination: { host: 'reviews.shop.svc.cluster.local', subset: 'v2', port: 9080 }, weight: 100 }],
          mirrors: [],
          timeoutMs: 250,
        },
        {
          match: [],
          route: [
            { destination: { host: 'reviews.shop.svc.cluster.local', subset: 'v1' }, weight: 75 },
            { destination: { host: 'ratings.other', subset: 'v3' }, weight: 25 },
          ],
          mirrors: [],
          timeoutMs: 1500,
        },
      ],
      tcp: [],
      tls: [],
    },
  });
  t.true(Object.isFrozen(vs));
});

test('multi-document text: every apiVersion alias, DestinationRule and ServiceExport', (t) => {
  const objects = parseOk(`# leading comment
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: west, labels: {topology.istio.io/cluster: west}}
  trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}
---
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: reviews, namespace: shop}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: r}
spec: {hosts: [r], http: [{route: [{destination: {host: r}}]}]}
`);
  t.deepEqual(
    objects.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`),
    [
      'networking.istio.io/v1alpha3 DestinationRule default/reviews',
      'multicluster.x-k8s.io/v1alpha1 ServiceExport shop/reviews',
      'networking.istio.io/v1beta1 VirtualService default/r',
    ],
  );
  const dr = objects[0] as DestinationRuleConfig;
  t.deepEqual(dr.spec, {
    host: 'reviews.default.svc.cluster.local',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'west', labels: { 'topology.istio.io/cluster': 'west' } },
    ],
    trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' }, portLevelSettings: [] },
    exportTo: ['*'],
  });
  const se = objects[1];
  t.is(se?.kind === 'ServiceExport' ? se.hostname : '', 'reviews.shop.svc.cluster.local');
});

test('one bad document fails the text but every error is reported', (t) => {
  const r = parseConfigText(
    `apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: ok}
---
apiVersion: multicluster.x-k8s.io/v1alpha1
kind: ServiceExport
metadata: {name: Bad_Name}
`,
    'a.yaml',
  );
  t.false(r.ok);
  if (!r.ok) t.deepEqual(r.errors.map((e) => e.path), ['metadata.name']);
});

test('empty text and comment-only text give no objects', (t) => {
  t.deepEqual(parseOk(''), []);
  t.deepEqual(parseOk('# nothing here\n---\n'), []);
});

const hosts: [string, string, string][] = [
  ['reviews', 'default', 'reviews.default.svc.cluster.local'],
  ['reviews', 'shop', 'reviews.shop.svc.cluster.local'],
  // Istio's ResolveShortnameToFQDN: a host with a dot is fully qualified and never expanded.
  ['reviews.other', 'shop', 'reviews.other'],
  ['reviews.prod', 'shop', 'reviews.prod'],
  ['reviews.other.svc', 'shop', 'reviews.other.svc'],
  ['httpbin.org', 'shop', 'httpbin.org'],
  ['reviews.other.svc.cluster.local', 'shop', 'reviews.other.svc.cluster.local'],
  ['api.example.com', 'shop', 'api.example.com'],
  ['*.example.com', 'shop', '*.example.com'],
  ['*', 'shop', '*'],
  ['10.0.0.1', 'shop', '10.0.0.1'],
  ['2001:db8::1', 'shop', '2001:db8::1'],
];
for (const [host, ns, expected] of hosts) {
  test(`resolveHost ${host} in ${ns}`, (t) => {
    t.is(resolveHost(host, ns), expected);
  });
}
