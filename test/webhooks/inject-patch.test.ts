import test from 'ava';
import jsonPatch from 'fast-json-patch';
import { type InjectorSettings, planInjection } from '../../src/webhooks/index.ts';
import { kubeSchemaProblems } from '../support/kube-models.ts';

/**
 * The injector's patch, a pure function: table tests with no network. Each injected pod is
 * patched by fast-json-patch (a third-party RFC 6902 implementation, validating each operation)
 * and the result checked against Kubernetes' published Pod schema (kubernetes-models).
 */

const SETTINGS: InjectorSettings = {
  cluster: 'east',
  trustDomain: 'cluster.local',
  image: 'meshfed:0.1.0',
  controlPlaneNamespace: 'meshfed-system',
  controlPlaneHost: 'meshfed-controlplane.meshfed-system.svc',
};

interface Pod {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: { name: string; image: string; args?: string[]; ports?: { containerPort: number }[]; securityContext?: Record<string, unknown> }[];
    initContainers?: { name: string; image: string; args?: string[]; securityContext?: Record<string, unknown> }[];
    volumes?: { name: string }[];
    hostNetwork?: boolean;
    serviceAccountName?: string;
  };
}

function pod(over: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Partial<Pod['spec']> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'reviews-v1-7d9f-', ...(over.labels ? { labels: over.labels } : {}), ...(over.annotations ? { annotations: over.annotations } : {}) },
    spec: {
      serviceAccountName: 'bookinfo-reviews',
      containers: [{ name: 'reviews', image: 'reviews:1', ports: [{ containerPort: 9080 }] }],
      ...over.spec,
    },
  };
}

function injected(p: Pod, namespace = 'bookinfo'): Pod {
  const r = planInjection(p, namespace, SETTINGS);
  if (!r.ok) throw new Error(r.errors.join('\n'));
  if (!r.value.inject) throw new Error(`not injected: ${r.value.reason}`);
  return jsonPatch.applyPatch(structuredClone(p), r.value.patch as jsonPatch.Operation[], true, false).newDocument;
}

function argAfter(args: readonly string[] | undefined, flag: string): string | undefined {
  const i = (args ?? []).indexOf(flag);
  return i === -1 ? undefined : args?.[i + 1];
}

test('an injected pod has the sidecar and the capture init container, and is a valid Pod', async (t) => {
  const out = injected(pod({ labels: { app: 'reviews', version: 'v1' } }));
  t.deepEqual(await kubeSchemaProblems(out), []);
  t.deepEqual(out.spec.containers.map((c) => c.name), ['reviews', 'istio-proxy']);
  t.deepEqual(out.spec.initContainers?.map((c) => c.name), ['istio-init']);
  t.deepEqual(out.spec.volumes?.map((v) => v.name), ['meshfed-token', 'meshfed-ca-root']);

  const sidecar = out.spec.containers[1];
  t.is(sidecar?.image, 'meshfed:0.1.0');
  t.is(sidecar?.args?.[0], 'sidecar');
  const flags = {
    '--cluster': 'east',
    '--namespace': 'bookinfo',
    '--workload': 'reviews',
    '--service-account': 'bookinfo-reviews',
    '--address': '$(POD_IP)',
    '--service-port': '9080',
    '--labels': '{"app":"reviews","version":"v1"}',
    '--control-plane': 'meshfed-controlplane.meshfed-system.svc',
    '--roots': '/var/run/secrets/meshfed/root-cert.pem',
    '--token-file': '/var/run/secrets/tokens/meshfed-token',
    '--trust-domain': 'cluster.local',
  };
  for (const [flag, value] of Object.entries(flags)) t.is(argAfter(sidecar?.args, flag), value, flag);
  t.is(sidecar?.args?.at(-1), '--capture', 'the injected sidecar runs behind the init container\'s capture rules');
  t.like(sidecar, {
    securityContext: { runAsUser: 1337, runAsGroup: 1337, runAsNonRoot: true, allowPrivilegeEscalation: false },
    readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 } },
  });
  t.deepEqual(
    (sidecar as unknown as { ports: { containerPort: number }[] }).ports.map((p) => p.containerPort),
    [15001, 15006, 15021, 15090],
  );
  // The token the sidecar presents to Citadel is its projected service-account token for the
  // audience meshfed-ca (TokenReview checks it); the roots come from meshfed-ca-root-cert.
  t.deepEqual(out.spec.volumes, [
    { name: 'meshfed-token', projected: { sources: [{ serviceAccountToken: { audience: 'meshfed-ca', expirationSeconds: 43200, path: 'meshfed-token' } }] } },
    { name: 'meshfed-ca-root', configMap: { name: 'meshfed-ca-root-cert' } },
  ]);
  const mounts = (sidecar as unknown as { volumeMounts: { name: string; mountPath: string }[] }).volumeMounts;
  const fileIn = (volume: string, file: string) => `${mounts.find((m) => m.name === volume)?.mountPath}/${file}`;
  t.is(argAfter(sidecar?.args, '--token-file'), fileIn('meshfed-token', 'meshfed-token'));
  t.is(argAfter(sidecar?.args, '--roots'), fileIn('meshfed-ca-root', 'root-cert.pem'));

  const init = out.spec.initContainers?.[0];
  t.deepEqual(init?.args, [
    'capture-init', '--proxy-uid', '1337', '--proxy-gid', '1337', '--outbound-capture-port', '15001', '--inbound-capture-port', '15006',
    '--include-inbound-ports', '9080', '--exclude-inbound-ports', '15020,15021,15090', '--exclude-outbound-ports', '',
    '--include-outbound-ip-ranges', '*', '--exclude-outbound-ip-ranges', '',
  ]);
  t.like(init?.securityContext, { runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });

  t.like(out.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15090', 'prometheus.io/path': '/stats/prometheus' });
  t.deepEqual(JSON.parse(out.metadata.annotations?.['sidecar.istio.io/status'] ?? 'null'), {
    initContainers: ['istio-init'],
    containers: ['istio-proxy'],
    volumes: ['meshfed-token', 'meshfed-ca-root'],
    imagePullSecrets: null,
    revision: 'default',
  });
  t.is(out.metadata.labels?.['security.istio.io/tlsMode'], 'istio');
});

test('existing init containers, volumes and annotations are kept and appended to', async (t) => {
  const p = pod({
    labels: { app: 'reviews' },
    annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102', 'a/b~c': 'kept' },
    spec: {
      initContainers: [{ name: 'migrate', image: 'migrate:1' }],
      volumes: [{ name: 'data', emptyDir: {} } as unknown as { name: string }],
    },
  });
  const out = injected(p);
  t.deepEqual(await kubeSchemaProblems(out), []);
  t.deepEqual(out.spec.initContainers?.map((c) => c.name), ['migrate', 'istio-init']);
  t.deepEqual(out.spec.volumes?.map((v) => v.name), ['data', 'meshfed-token', 'meshfed-ca-root']);
  // The pod's own scrape annotations win, as in Istio.
  t.like(out.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9102', 'a/b~c': 'kept' });
  t.is(out.metadata.annotations?.['prometheus.io/path'], undefined);
  t.truthy(out.metadata.annotations?.['sidecar.istio.io/status']);
});

test('a pod without an app label is named by its pod name at run time; $( in labels is escaped for Kubernetes', (t) => {
  const out = injected(pod({ labels: { tier: '$(secret)' } }));
  const args = out.spec.containers[1]?.args;
  t.is(argAfter(args, '--workload'), '$(POD_NAME)');
  t.is(argAfter(args, '--labels'), '{"tier":"$$(secret)"}');
  const noAccount = pod();
  delete noAccount.spec.serviceAccountName;
  t.is(argAfter(injected(noAccount).spec.containers[1]?.args, '--service-account'), 'default');
});

test('capture annotations reach the init container', (t) => {
  const out = injected(pod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundPorts': '5432', 'traffic.sidecar.istio.io/includeInboundPorts': '*' } }));
  const args = out.spec.initContainers?.[0]?.args;
  t.is(argAfter(args, '--exclude-outbound-ports'), '5432');
  t.is(argAfter(args, '--include-inbound-ports'), '*');
});

test('a second pass over an injected pod changes nothing', (t) => {
  const once = injected(pod({ labels: { app: 'reviews' } }));
  const r = planInjection(once, 'bookinfo', SETTINGS);
  t.deepEqual(r, { ok: true, value: { inject: false, reason: 'already injected' } });
});

const skipped: { name: string; pod: Pod; namespace?: string; reason: RegExp }[] = [
  { name: 'hostNetwork', pod: pod({ spec: { hostNetwork: true } }), reason: /hostNetwork/ },
  { name: 'the control plane namespace', pod: pod(), namespace: 'meshfed-system', reason: /control plane's namespace meshfed-system/ },
  { name: 'kube-system', pod: pod(), namespace: 'kube-system', reason: /kube-system/ },
  { name: 'annotation inject "false"', pod: pod({ annotations: { 'sidecar.istio.io/inject': 'false' } }), reason: /sidecar\.istio\.io\/inject is "false"/ },
  { name: 'label inject "false"', pod: pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), reason: /is "false"/ },
  { name: 'label "false" wins over annotation "true"', pod: pod({ labels: { 'sidecar.istio.io/inject': 'false' }, annotations: { 'sidecar.istio.io/inject': 'true' } }), reason: /is "false"/ },
  { name: 'a container named istio-proxy', pod: pod({ spec: { containers: [{ name: 'istio-proxy', image: 'x', ports: [{ containerPort: 1 }] }] } }), reason: /already injected/ },
  { name: 'the status annotation', pod: pod({ annotations: { 'sidecar.istio.io/status': '{}' } }), reason: /already injected/ },
  { name: 'no container port', pod: pod({ spec: { containers: [{ name: 'job', image: 'job:1' }] } }), reason: /no container declares a port/ },
];

for (const c of skipped) {
  test(`not injected: ${c.name}`, (t) => {
    const r = planInjection(c.pod, c.namespace ?? 'bookinfo', SETTINGS);
    if (!r.ok) return t.fail(r.errors.join('\n'));
    if (r.value.inject) return t.fail('injected');
    t.regex(r.value.reason, c.reason);
  });
}

test('an annotation "true" on its own still injects (the namespace selector decides opt-in)', (t) => {
  const r = planInjection(pod({ annotations: { 'sidecar.istio.io/inject': 'true' } }), 'bookinfo', SETTINGS);
  t.true(r.ok && r.value.inject);
});

test('not a pod, or a malformed capture annotation: errors with their paths', (t) => {
  t.deepEqual(planInjection({ spec: { containers: [] } }, 'bookinfo', SETTINGS), {
    ok: false,
    errors: ['request.object.spec.containers: a pod needs at least one container'],
  });
  const r = planInjection(pod({ annotations: { 'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.0.0.0/40' } }), 'bookinfo', SETTINGS);
  t.false(r.ok);
  if (!r.ok) t.regex(r.errors.join('\n'), /^metadata\.annotations\["traffic\.sidecar\.istio\.io\/excludeOutboundIPRanges"\]: "10\.0\.0\.0\/40" is not a CIDR/);
});
