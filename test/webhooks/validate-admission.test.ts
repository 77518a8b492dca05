import test from 'ava';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import { type AdmissionRequest, validateAdmission } from '../../src/webhooks/index.ts';

/** `/validate`'s decision through the file validators (config-parse.ts): a table, no network. */

const goodVs = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'reviews', namespace: 'bookinfo' },
  spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }] }] },
};
/** As the API server sends it: its own metadata, and the namespace only on the request. */
const serverMetadata = {
  uid: '0b7e…',
  resourceVersion: '4711',
  generation: 1,
  creationTimestamp: '2026-12-03T12:00:00Z',
  managedFields: [{ manager: 'kubectl', operation: 'Update' }],
  annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
};

function request(object: unknown, operation: AdmissionRequest['operation'] = 'CREATE', namespace = 'bookinfo'): AdmissionRequest {
  return { uid: 'u-1', kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' }, operation, namespace, object };
}

const allowed: { name: string; request: AdmissionRequest }[] = [
  { name: 'a good VirtualService', request: request(goodVs) },
  { name: "with the API server's metadata and no namespace in the object", request: request({ ...goodVs, metadata: { name: 'reviews', ...serverMetadata } }) },
  { name: 'an UPDATE', request: request(goodVs, 'UPDATE') },
  { name: 'a DELETE, whatever the object', request: request(undefined, 'DELETE') },
  { name: 'a ServiceExport', request: request({ apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceExport', metadata: { name: 'reviews' } }) },
];

for (const c of allowed) {
  test(`allowed: ${c.name}`, (t) => {
    t.deepEqual(validateAdmission(c.request), { allowed: true });
  });
}

const denied: { name: string; object: unknown; message: string }[] = [
  {
    name: 'a weight out of range, with its path',
    object: { ...goodVs, spec: { ...goodVs.spec, http: [{ route: [{ destination: { host: 'reviews' }, weight: 101 }] }] } },
    message: 'VirtualService bookinfo/reviews: spec.http[0].route[0].weight: ',
  },
  {
    name: 'an unsupported field, with its path',
    object: { ...goodVs, spec: { ...goodVs.spec, http: [{ route: [{ destination: { host: 'reviews' } }], mirrorz: 1 }] } },
    message: 'VirtualService bookinfo/reviews: spec.http[0].mirrorz: ',
  },
  {
    name: 'a kind meshfed does not know in its group',
    object: { ...goodVs, kind: 'VirtualMachine' },
    message: 'VirtualMachine bookinfo/reviews: kind: unknown kind VirtualMachine in networking.istio.io/v1',
  },
  {
    name: 'a kind meshfed knows but does not support yet',
    object: { apiVersion: 'networking.istio.io/v1alpha3', kind: 'EnvoyFilter', metadata: { name: 'deny' }, spec: {} },
    message: 'EnvoyFilter bookinfo/deny: kind EnvoyFilter is not supported yet',
  },
];

for (const c of denied) {
  test(`denied: ${c.name}`, (t) => {
    const d = validateAdmission(request(c.object));
    t.false(d.allowed);
    t.is(d.status?.code, 400);
    t.true(d.status?.message.startsWith(c.message), d.status?.message);
  });
}

test('the denial lists every error, each as `meshfed apply` prints it after the file name', (t) => {
  const object = { ...goodVs, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' }, weight: 101 }], timeout: 'soon' }] } };
  const d = validateAdmission(request(object));
  const file = parseConfigText(JSON.stringify(object), 'reviews.yaml');
  if (file.ok) return t.fail('the file validators accepted it');
  t.true(file.errors.length >= 2);
  t.is(d.status?.message, file.errors.map((e) => String(e).slice('reviews.yaml: '.length)).join('\n'));
});

test('a CREATE without an object is denied naming request.object', (t) => {
  t.deepEqual(validateAdmission(request(undefined)), {
    allowed: false,
    status: { code: 400, reason: 'BadRequest', message: 'request.object: required for CREATE' },
  });
});
