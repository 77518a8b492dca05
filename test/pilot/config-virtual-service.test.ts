import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import type { HttpRoute, VirtualServiceConfig } from '../../src/pilot/config/config-types.ts';

/** Every VirtualService HTTP field meshfed honours, parsed as Istio users write them. */
const vs = (http: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
${http}`;

function rule(http: string): HttpRoute {
  const r = parseConfigText(vs(http), 'vs.yaml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  const [o] = r.value as VirtualServiceConfig[];
  const first = o?.spec.http[0];
  if (!first) throw new Error('no rule');
  return first;
}

const R = 'reviews.shop.svc.cluster.local';

const parsed: [title: string, http: string, expected: Partial<HttpRoute>][] = [
  [
    'matches: uri regex, scheme, method, authority, headers, withoutHeaders, queryParams, ignoreUriCase, port, sourceLabels, sourceNamespace',
    `  - match:
    - uri: {regex: '/api/v[0-9]+'}
      scheme: {exact: http}
      method: {exact: GET}
      authority: {prefix: reviews}
      headers: {end-user: {exact: jason}, x-present: {}}
      withoutHeaders: {x-debug: {}}
      queryParams: {flavor: {regex: 'mint|lemon'}}
      ignoreUriCase: true
      port: 9080
      sourceLabels: {app: productpage}
      sourceNamespace: shop
    route: [{destination: {host: reviews}}]`,
    {
      match: [
        {
          uri: { regex: '/api/v[0-9]+' },
          scheme: { exact: 'http' },
          method: { exact: 'GET' },
          authority: { prefix: 'reviews' },
          headers: { 'end-user': { exact: 'jason' }, 'x-present': {} },
          withoutHeaders: { 'x-debug': {} },
          queryParams: { flavor: { regex: 'mint|lemon' } },
          ignoreUriCase: true,
          port: 9080,
          sourceLabels: { app: 'productpage' },
          sourceNamespace: 'shop',
        },
      ],
    },
  ],
  [
    'retries with HTTP codes in retryOn, perTryTimeout',
    `  - route: [{destination: {host: reviews}}]
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,connect-failure,503'}`,
    { retries: { attempts: 3, perTryTimeoutMs: 2000, retryOn: ['gateway-error', 'connect-failure', 'retriable-status-codes'], statusCodes: [503] } },
  ],
  [
    'retryRemoteLocalities',
    `  - route: [{destination: {host: reviews}}]
    retries: {attempts: 2, retryOn: 5xx, retryRemoteLocalities: true}`,
    { retries: { attempts: 2, retryOn: ['5xx'], statusCodes: [], remoteLocalities: true } },
  ],
  [
    'fault delay with the deprecated percent, abort with percentage',
    `  - route: [{destination: {host: reviews}}]
    fault:
      delay: {fixedDelay: 7s, percent: 100}
      abort: {httpStatus: 500, percentage: {value: 12.5}}`,
    { fault: { delay: { ms: 7000, percent: 100 }, abort: { percent: 12.5, httpStatus: 500 } } },
  ],
  [
    'gRPC fault abort by status name; a fault without percentage applies to all requests',
    `  - route: [{destination: {host: reviews}}]
    fault: {abort: {grpcStatus: UNAVAILABLE}}`,
    { fault: { abort: { percent: 100, grpcStatus: 14 } } },
  ],
  [
    'mirror with mirrorPercentage',
    `  - route: [{destination: {host: reviews, subset: v1}}]
    mirror: {host: reviews, subset: v2}
    mirrorPercentage: {value: 50}`,
    { mirrors: [{ destination: { host: R, subset: 'v2' }, percent: 50 }] },
  ],
  [
    'mirrors, each with its percentage',
    `  - route: [{destination: {host: reviews}}]
    mirrors:
    - destination: {host: ratings}
      percentage: {value: 10}
    - destination: {host: details}`,
    {
      mirrors: [
        { destination: { host: 'ratings.shop.svc.cluster.local', subset: '' }, percent: 10 },
        { destination: { host: 'details.shop.svc.cluster.local', subset: '' }, percent: 100 },
      ],
    },
  ],
  [
    'rewrite: uri and authority',
    `  - match: [{uri: {prefix: /old}}]
    rewrite: {uri: /new, authority: reviews.internal}
    route: [{destination: {host: reviews}}]`,
    { rewrite: { uri: '/new', authority: 'reviews.internal' } },
  ],
  [
    'redirect',
    `  - redirect: {uri: /v2, authority: new.example, redirectCode: 302}`,
    { route: [], redirect: { code: 302, uri: '/v2', authority: 'new.example' } },
  ],
  [
    'directResponse with a string body',
    `  - directResponse: {status: 503, body: {string: unavailable}}`,
    { route: [], directResponse: { status: 503, body: 'unavailable' } },
  ],
  [
    'headers on the rule and per destination',
    `  - headers:
      request: {set: {x-set: a}, add: {x-add: b}, remove: [x-drop]}
      response: {remove: [server]}
    route:
    - destination: {host: reviews}
      headers: {response: {add: {x-served-by: v1}}}`,
    {
      headers: { request: { set: { 'x-set': 'a' }, add: { 'x-add': 'b' }, remove: ['x-drop'] }, response: { set: {}, add: {}, remove: ['server'] } },
      route: [{ destination: { host: R, subset: '' }, weight: 100, headers: { response: { set: {}, add: { 'x-served-by': 'v1' }, remove: [] } } }],
    },
  ],
  [
    'corsPolicy with the deprecated allowOrigin',
    `  - route: [{destination: {host: reviews}}]
    corsPolicy:
      allowOrigins: [{prefix: 'https://shop.'}]
      allowOrigin: ['https://legacy.example']
      allowMethods: [GET, POST]
      allowHeaders: [x-token]
      exposeHeaders: [x-trace]
      maxAge: 24h
      allowCredentials: true`,
    {
      corsPolicy: {
        allowOrigins: [{ prefix: 'https://shop.' }, { exact: 'https://legacy.example' }],
        allowMethods: ['GET', 'POST'],
        allowHeaders: ['x-token'],
        exposeHeaders: ['x-trace'],
        maxAgeSeconds: 86400,
        allowCredentials: true,
      },
    },
  ],
];

for (const [title, http, expected] of parsed) {
  test(`VirtualService parses ${title}`, (t) => {
    const r = rule(http);
    for (const [k, v] of Object.entries(expected)) t.deepEqual(r[k as keyof HttpRoute], v, k);
  });
}

const rejected: [title: string, http: string, error: string][] = [
  ['a rule with route and redirect', `  - route: [{destination: {host: reviews}}]\n    redirect: {uri: /x}`, 'spec.http[0]: exactly one of route, redirect, directResponse is required'],
  ['a rule with no action', `  - timeout: 1s`, 'spec.http[0]: exactly one of route, redirect, directResponse is required'],
  ['a fault without delay or abort', `  - route: [{destination: {host: reviews}}]\n    fault: {}`, 'spec.http[0].fault: one of delay, abort must be set'],
  ['an abort with two statuses', `  - route: [{destination: {host: reviews}}]\n    fault: {abort: {httpStatus: 500, grpcStatus: INTERNAL}}`, 'spec.http[0].fault.abort: exactly one of httpStatus, grpcStatus must be set'],
  ['an unknown gRPC status', `  - route: [{destination: {host: reviews}}]\n    fault: {abort: {grpcStatus: BROKEN}}`, 'spec.http[0].fault.abort.grpcStatus: must be a gRPC status name such as UNAVAILABLE'],
  ['an http2Error abort (not honoured yet)', `  - route: [{destination: {host: reviews}}]\n    fault: {abort: {http2Error: REFUSED_STREAM}}`, 'spec.http[0].fault.abort.http2Error: http2Error aborts are not supported yet'],
  ['an exponential delay (not honoured yet)', `  - route: [{destination: {host: reviews}}]\n    fault: {delay: {fixedDelay: 1s, exponentialDelay: 1s}}`, 'spec.http[0].fault.delay.exponentialDelay: field is not supported by meshfed yet'],
  ['mirror and mirrors together', `  - route: [{destination: {host: reviews}}]\n    mirror: {host: ratings}\n    mirrors: [{destination: {host: details}}]`, 'spec.http[0].mirrors: mirror and mirrors are exclusive'],
  ['a bad regex', `  - match: [{uri: {regex: '('}}]\n    route: [{destination: {host: reviews}}]`, 'spec.http[0].match[0].uri.regex: must be a valid regular expression'],
  ['a redirect code that is not a redirect', `  - redirect: {uri: /x, redirectCode: 200}`, 'spec.http[0].redirect.redirectCode: must be one of 301, 302, 303, 307, 308'],
  ['derivePort FROM_REQUEST_PORT (not honoured yet)', `  - redirect: {uri: /x, derivePort: FROM_REQUEST_PORT}`, 'spec.http[0].redirect.derivePort: FROM_REQUEST_PORT is not supported yet'],
  ['rewrite with uri and uriRegexRewrite', `  - route: [{destination: {host: reviews}}]\n    rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}`, 'spec.http[0].rewrite: uri and uriRegexRewrite are exclusive'],
  ['a gateway-bound match', `  - match: [{gateways: [my-gateway]}]\n    route: [{destination: {host: reviews}}]`, 'spec.http[0].match[0].gateways: only "mesh" is supported; gateway-bound matches are not supported yet'],
];

for (const [title, http, error] of rejected) {
  test(`VirtualService rejects ${title}`, (t) => {
    const r = parseConfigText(vs(http), 'vs.yaml');
    t.false(r.ok);
    if (!r.ok) t.true(r.errors.some((e) => String(e).endsWith(error)), r.errors.map(String).join(' | '));
  });
}
