import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseConfigText } from '../../src/pilot/config/index.ts';
import { findTool } from '../support/tools.ts';

/**
 * The add-ons (Consul, Prometheus, Grafana) and the demo, beyond their Kubernetes schemas
 * (manifests.test.ts): Prometheus' scrape config passes the real promtool and keeps exactly the
 * pods carrying Istio's annotations; Grafana is provisioned with Prometheus and a meshfed folder;
 * Consul gets its WAN join addresses from the ConfigMap setup.sh writes; the demo's meshfed kinds
 * pass meshfed's own validator. Binds nothing.
 */
const run = promisify(execFile);

interface Obj {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
}

async function docs(file: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(file, 'utf8')).map((d) => d.toJS() as Obj);
}

function one(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} missing`);
  return o;
}

interface PodSpec {
  containers: { image: string; args?: string[]; env?: { name: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}

function podSpec(o: Obj): PodSpec {
  return (o.spec?.['template'] as { spec: PodSpec }).spec;
}

test('Prometheus: promtool accepts the scrape config, which follows Istio’s annotations', async (t) => {
  const cm = one(await docs('kind-configs/addons/prometheus.yaml'), 'ConfigMap', 'prometheus-config');
  const text = cm.data?.['prometheus.yml'] ?? '';
  const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-prom-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Debian's Prometheus is built without Kubernetes service discovery, so promtool checks a copy
  // whose kubernetes_sd_configs block is swapped for an empty static one: every relabel rule (its
  // action, regex and labels) is still checked by the real parser; the block itself is checked below.
  const config = parse(text) as {
    scrape_configs: ({ kubernetes_sd_configs?: { role: string }[]; static_configs?: unknown; relabel_configs: { source_labels?: string[]; action?: string; regex?: string; target_label?: string }[] })[];
  };
  t.deepEqual(config.scrape_configs.map((s) => s.kubernetes_sd_configs), [[{ role: 'pod' }]]);
  const forPromtool = structuredClone(config);
  for (const s of forPromtool.scrape_configs) {
    delete s.kubernetes_sd_configs;
    s.static_configs = [{ targets: [] }];
  }
  const file = path.join(dir, 'prometheus.yml');
  await writeFile(file, stringify(forPromtool));
  const r = await run(findTool('promtool'), ['check', 'config', file]);
  t.regex(r.stdout + r.stderr, /SUCCESS/);
  const relabel = config.scrape_configs[0]?.relabel_configs ?? [];
  t.like(relabel[0], { source_labels: ['__meta_kubernetes_pod_annotation_prometheus_io_scrape'], action: 'keep', regex: 'true' });
  t.true(relabel.some((r) => r.source_labels?.[0] === '__meta_kubernetes_pod_annotation_prometheus_io_path' && r.target_label === '__metrics_path__'));
  t.true(relabel.some((r) => r.source_labels?.[1] === '__meta_kubernetes_pod_annotation_prometheus_io_port' && r.target_label === '__address__'));
  const dep = one(await docs('kind-configs/addons/prometheus.yaml'), 'Deployment', 'prometheus');
  t.regex(podSpec(dep).containers[0]?.image ?? '', /^prom\/prometheus:v\d+\.\d+\.\d+$/);
});

test('Grafana: the official image, Prometheus as the default data source, a meshfed dashboards folder from a ConfigMap', async (t) => {
  const objs = await docs('kind-configs/addons/grafana.yaml');
  const ds = parse(one(objs, 'ConfigMap', 'grafana-datasources').data?.['prometheus.yaml'] ?? '') as { datasources: { type: string; url: string; isDefault: boolean }[] };
  t.deepEqual(ds.datasources.map((d) => [d.type, d.url, d.isDefault]), [['prometheus', 'http://prometheus.meshfed-system.svc:9090', true]]);
  const providers = parse(one(objs, 'ConfigMap', 'grafana-dashboard-providers').data?.['meshfed.yaml'] ?? '') as { providers: { folder: string; options: { path: string } }[] };
  const provider = providers.providers[0];
  t.is(provider?.folder, 'meshfed');
  const pod = podSpec(one(objs, 'Deployment', 'grafana'));
  t.regex(pod.containers[0]?.image ?? '', /^grafana\/grafana:\d+\.\d+\.\d+$/);
  const mount = pod.containers[0]?.volumeMounts?.find((m) => m.mountPath === provider?.options.path);
  t.is(pod.volumes?.find((v) => v.name === mount?.name)?.configMap?.name, 'grafana-dashboards-meshfed');
});

test('Consul: the official image, one datacenter per cluster, WAN join from the consul-federation ConfigMap', async (t) => {
  const objs = await docs('kind-configs/addons/consul.yaml');
  const pod = podSpec(one(objs, 'StatefulSet', 'consul-server'));
  const c = pod.containers[0];
  t.regex(c?.image ?? '', /^hashicorp\/consul:\d+\.\d+\.\d+$/);
  t.true(c?.args?.includes('-server'));
  t.true(c?.args?.includes('-advertise-wan=$(HOST_IP)'));
  t.true(c?.args?.includes('-config-dir=/consul/federation'));
  t.is(pod.volumes?.find((v) => v.name === 'federation')?.configMap?.name, 'consul-federation');
});

test("the demo: meshfed's validator accepts its meshfed kinds; its meshfed image is this version's", async (t) => {
  const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
  for (const f of ['backend.yaml', 'backend-v1.yaml', 'backend-v2.yaml', 'frontend.yaml', 'namespace.yaml']) {
    const file = `kind-configs/demo/${f}`;
    const text = await readFile(file, 'utf8');
    const meshKinds = parseAllDocuments(text)
      .map((d) => d.toJS() as { apiVersion: string })
      .filter((o) => /istio\.io|x-k8s\.io/.test(o.apiVersion));
    for (const o of meshKinds) {
      const r = parseConfigText(JSON.stringify(o), file);
      t.true(r.ok, `${file}: ${r.ok ? '' : r.errors.map((e) => e.message).join('; ')}`);
    }
    for (const o of (await docs(file)).filter((x) => x.kind === 'Deployment')) {
      for (const c of podSpec(o).containers) if (c.image.startsWith('meshfed:')) t.is(c.image, `meshfed:${pkg.version}`, file);
    }
  }
});
