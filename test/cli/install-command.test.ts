import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { meshfed } from '../support/cli.ts';

/**
 * `meshfed install` as a user runs it: multi-document YAML on stdout, or one line on stderr and
 * exit 1 for a bad flag. Binds nothing.
 */
const BASE = ['install', '--cluster', 'east', '--network', 'network-east', '--gateway-address', '172.18.255.32'];

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

async function install(extra: string[] = []): Promise<Obj[]> {
  const r = await meshfed([...BASE, ...extra]);
  if (r.code !== 0) throw new Error(r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj);
}

function find(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} missing`);
  return o;
}

test('bad flags end with one line naming the flag, exit 1, nothing on stdout', async (t) => {
  const rows: [string[], string][] = [
    [['--cluster', 'East_1'], 'meshfed install: invalid --cluster "East_1": must be a DNS label (lower-case letters, digits, -) of at most 40 characters'],
    [['--network', 'net work'], 'meshfed install: invalid --network "net work": must be a label value (letters, digits, -, _, .) of at most 63 characters'],
    [['--gateway-address', 'gw.example'], 'meshfed install: invalid --gateway-address "gw.example": must be an IP address'],
    [['--gateway-service-type', 'ClusterIP'], 'meshfed install: invalid --gateway-service-type "ClusterIP": must be LoadBalancer or NodePort'],
    [['--gateway-node-port', '8080'], 'meshfed install: invalid --gateway-node-port "8080": must be a port in the NodePort range 30000..32767'],
    [['--namespace', 'Mesh'], 'meshfed install: invalid --namespace "Mesh": must be a DNS label (lower-case letters, digits, -)'],
  ];
  for (const [flags, message] of rows) {
    const r = await meshfed([...BASE, ...flags]);
    t.is(r.code, 1, flags.join(' '));
    t.is(r.stderr, `${message}\n`);
    t.is(r.stdout, '');
  }
});

test('the control plane serves 15010, 15012, 15014 and 15017 and the webhooks point at 15017', async (t) => {
  const objs = await install();
  const svc = find(objs, 'Service', 'meshfed-controlplane');
  t.deepEqual(
    (svc.spec?.['ports'] as { name: string; port: number }[]).map((p) => [p.name, p.port]),
    [['grpc-xds', 15010], ['tls-xds', 15012], ['http-monitoring', 15014], ['https-webhook', 15017]],
  );
  const hooks = [
    ...((find(objs, 'ValidatingWebhookConfiguration', 'meshfed-validator-meshfed-system') as unknown as { webhooks: { clientConfig: { service: unknown } }[] }).webhooks),
    ...((find(objs, 'MutatingWebhookConfiguration', 'meshfed-sidecar-injector-meshfed-system') as unknown as { webhooks: { clientConfig: { service: unknown } }[] }).webhooks),
  ];
  t.is(hooks.length, 4);
  for (const h of hooks) t.like(h.clientConfig.service, { name: 'meshfed-controlplane', namespace: 'meshfed-system', port: 15017 });
  const dep = find(objs, 'Deployment', 'meshfed-controlplane');
  const pod = (dep.spec?.['template'] as { metadata: { annotations: Record<string, string> }; spec: { containers: { args: string[] }[] } });
  t.deepEqual(pod.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15014', 'prometheus.io/path': '/metrics' });
  const args = pod.spec.containers[0]?.args ?? [];
  t.is(args[0], 'controlplane');
  t.is(args[args.indexOf('--cluster') + 1], 'east');
  t.is(args[args.indexOf('--gateway-address') + 1], '172.18.255.32');
});

test('the east-west gateway: 2 replicas, LoadBalancer pinned to the address, or NodePort on request', async (t) => {
  const lb = await install();
  const dep = find(lb, 'Deployment', 'meshfed-eastwestgateway');
  t.is(dep.spec?.['replicas'], 2);
  const annotations = (dep.spec?.['template'] as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
  t.deepEqual(annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '15090', 'prometheus.io/path': '/stats/prometheus' });
  const svc = find(lb, 'Service', 'meshfed-eastwestgateway');
  t.is(svc.spec?.['type'], 'LoadBalancer');
  t.deepEqual(svc.metadata.annotations, { 'metallb.io/loadBalancerIPs': '172.18.255.32' });
  t.deepEqual(svc.spec?.['ports'], [{ name: 'tls', port: 15443, targetPort: 15443, protocol: 'TCP' }]);

  const np = find(await install(['--gateway-service-type', 'NodePort', '--gateway-node-port', '31443']), 'Service', 'meshfed-eastwestgateway');
  t.is(np.spec?.['type'], 'NodePort');
  t.is(np.metadata.annotations, undefined);
  t.deepEqual(np.spec?.['ports'], [{ name: 'tls', port: 15443, targetPort: 15443, protocol: 'TCP', nodePort: 31443 }]);
});

test('every object is namespaced in --namespace or cluster-scoped, and the output is deterministic', async (t) => {
  const a = await meshfed([...BASE, '--namespace', 'mesh']);
  const b = await meshfed([...BASE, '--namespace', 'mesh']);
  t.is(a.stdout, b.stdout);
  const clusterScoped = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']);
  for (const o of parseAllDocuments(a.stdout).map((d) => d.toJS() as Obj)) {
    if (clusterScoped.has(o.kind)) t.is(o.metadata.namespace, undefined, `${o.kind} ${o.metadata.name}`);
    else t.is(o.metadata.namespace, 'mesh', `${o.kind} ${o.metadata.name}`);
  }
});

test("the containers' args are commands and flags the meshfed CLI accepts (it stops only at the files this machine lacks)", async (t) => {
  // 127.135.0.1: this file's address (CONTRIBUTING's 127.135.x.y block); nothing binds, the CA read fails first.
  const objs = await install();
  const missing = '/nonexistent-meshfed-install-test';
  const podArgs = (name: string): string[] => {
    const spec = (find(objs, 'Deployment', name).spec?.['template'] as { spec: { containers: { args: string[] }[] } }).spec;
    return (spec.containers[0]?.args ?? []).map((a) => (a === '$(POD_IP)' ? '127.135.0.1' : a.startsWith('/etc/') ? `${missing}${a}` : a));
  };
  const cp = await meshfed(podArgs('meshfed-controlplane'));
  t.is(cp.code, 1);
  t.is(cp.stderr, `meshfed controlplane: cannot read ${['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem'].map((f) => `${missing}/etc/cacerts/${f}`).join(', ')}\n`);
  const gw = await meshfed(podArgs('meshfed-eastwestgateway'));
  t.is(gw.code, 1);
  t.regex(gw.stderr, new RegExp(`^invalid --roots: ENOENT: no such file or directory, open '${missing}/etc/meshfed/roots/root-cert.pem'`));
});

test("validation covers Istio's groups whole and ServiceExports, never ServiceImports (meshfed's own writes); the control plane gets its namespace and the sidecar image", async (t) => {
  const objs = await install(['--namespace', 'mesh', '--image', 'registry.local/meshfed:9']);
  const validator = find(objs, 'ValidatingWebhookConfiguration', 'meshfed-validator-mesh') as unknown as {
    webhooks: { rules: { operations: string[]; apiGroups: string[]; resources: string[] }[] }[];
  };
  t.deepEqual(
    validator.webhooks[0]?.rules.map((r) => [r.apiGroups.join(), r.resources.join(), r.operations.join()]),
    [
      ['networking.istio.io', '*', 'CREATE,UPDATE'],
      ['security.istio.io', '*', 'CREATE,UPDATE'],
      ['multicluster.x-k8s.io', 'serviceexports', 'CREATE,UPDATE'],
    ],
  );
  const dep = find(objs, 'Deployment', 'meshfed-controlplane') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
  const args = dep.spec.template.spec.containers[0]?.args ?? [];
  t.is(args[args.indexOf('--namespace') + 1], 'mesh');
  t.is(args[args.indexOf('--sidecar-image') + 1], 'registry.local/meshfed:9');
});

test('the control plane reads the cluster with its service account: kube registry, crd config store, TokenReview; no mounted registry, tokens or config', async (t) => {
  const objs = await install();
  const dep = find(objs, 'Deployment', 'meshfed-controlplane') as unknown as {
    spec: { template: { spec: { containers: { args: string[]; volumeMounts: { name: string }[] }[]; volumes: { name: string }[] } } };
  };
  const c = dep.spec.template.spec.containers[0];
  const args = c?.args ?? [];
  t.is(args[args.indexOf('--registries') + 1], 'kube,federation');
  t.is(args[args.indexOf('--config-stores') + 1], 'crd');
  t.is(args[args.indexOf('--auth') + 1], 'kube');
  for (const gone of ['--registry-file', '--tokens-file', '--config-dir']) t.false(args.includes(gone), gone);
  t.deepEqual(dep.spec.template.spec.volumes.map((v) => v.name), ['cacerts']);
  t.deepEqual(objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name), []);
  const role = find(objs, 'ClusterRole', 'meshfed-controlplane-meshfed-system') as unknown as { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
  const can = (group: string, resource: string, verb: string) => role.rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
  t.true(can('authentication.k8s.io', 'tokenreviews', 'create'));
  t.true(can('', 'configmaps', 'create') && can('', 'configmaps', 'update') && can('', 'namespaces', 'watch'));
  t.true(can('admissionregistration.k8s.io', 'mutatingwebhookconfigurations', 'patch'));
  t.true(can('multicluster.x-k8s.io', 'serviceimports', 'create') && can('networking.istio.io', 'virtualservices/status', 'update'));
});
