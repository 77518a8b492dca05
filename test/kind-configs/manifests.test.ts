import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { crValidator, type CrdLike } from '../support/crd-validate.ts';
import { unknownFields } from '../support/kube-fields.ts';
import { type KubeObject, kubeSchemaProblems } from '../support/kube-models.ts';

/**
 * Every Kubernetes manifest under kind-configs/ (rendered installs, add-ons, the demo) validated
 * offline: built-in kinds against Kubernetes' OpenAPI schemas (kubernetes-models), Istio kinds
 * against Istio's published schemas (@kubernetes-models/istio 2.x) and, like every custom resource
 * of a meshfed CRD, against the CRDs' own openAPIV3Schema as rendered. kind's own cluster configs
 * are checked by kind-config.test.ts. Binds nothing.
 */
async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await yamlFiles(p)));
    else if (e.name.endsWith('.yaml')) out.push(p);
  }
  return out.sort();
}

interface Loaded {
  file: string;
  obj: KubeObject & Record<string, unknown>;
}

async function loadManifests(): Promise<Loaded[]> {
  const out: Loaded[] = [];
  for (const file of await yamlFiles('kind-configs')) {
    for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as (KubeObject & Record<string, unknown>) | null;
      if (obj === null || obj.apiVersion === 'kind.x-k8s.io/v1alpha4') continue;
      out.push({ file, obj });
    }
  }
  return out;
}

const manifests = await loadManifests();
const crds = manifests.filter((m) => m.obj.kind === 'CustomResourceDefinition' && m.file.endsWith('east.yaml')).map((m) => m.obj as unknown as CrdLike);
const crdGroups = new Set(crds.map((c) => c.spec.group));
const validateCr = crValidator(crds);
/** Custom resources of projects whose schemas are not packaged: MetalLB's, applied by setup.sh. */
const UNPACKAGED = new Set(['metallb.io']);

test('the rendered installs define the CRDs every custom resource here needs', (t) => {
  t.is(crds.length, 9);
  t.true(manifests.length >= 2 * 23, `${manifests.length} manifests`);
});

test('built-in and Istio kinds are valid under their published schemas', async (t) => {
  const problems: string[] = [];
  for (const { file, obj } of manifests) {
    const group = obj.apiVersion.includes('/') ? obj.apiVersion.slice(0, obj.apiVersion.indexOf('/')) : '';
    if (group === 'multicluster.x-k8s.io' || UNPACKAGED.has(group)) continue;
    for (const p of await kubeSchemaProblems(obj)) problems.push(`${file}: ${p}`);
  }
  t.deepEqual(problems, []);
});

test('built-in kinds carry no field Kubernetes does not know (strict field validation, offline)', (t) => {
  const problems: string[] = [];
  let checked = 0;
  for (const { file, obj } of manifests) {
    const group = obj.apiVersion.includes('/') ? obj.apiVersion.slice(0, obj.apiVersion.indexOf('/')) : '';
    if (group === 'multicluster.x-k8s.io' || group.endsWith('.istio.io') || UNPACKAGED.has(group)) continue;
    checked++;
    for (const p of unknownFields(obj)) problems.push(`${file}: ${obj.kind} ${obj.metadata?.name ?? ''}: ${p}`);
  }
  t.deepEqual(problems, []);
  t.true(checked > 40, `${checked} objects checked`);
});

test("custom resources of meshfed's CRDs are valid under the CRDs' own schemas", (t) => {
  let checked = 0;
  for (const { file, obj } of manifests) {
    const group = obj.apiVersion.slice(0, Math.max(0, obj.apiVersion.indexOf('/')));
    if (!crdGroups.has(group)) continue;
    checked++;
    t.deepEqual(validateCr(obj), [], `${file}: ${obj.kind} ${obj.metadata?.name ?? ''}`);
  }
  t.log(`${checked} custom resources checked against the rendered CRDs`);
  t.true(checked > 0, 'some rendered manifests are custom resources of the rendered CRDs');
});

test('the validators catch what they should (a deliberately broken copy fails both)', async (t) => {
  const deployment = manifests.find((m) => m.obj.kind === 'Deployment')?.obj;
  if (!deployment) return t.fail('no Deployment');
  const broken = structuredClone(deployment) as Record<string, unknown> & KubeObject;
  (broken['spec'] as Record<string, unknown>)['replicas'] = 'two';
  t.not((await kubeSchemaProblems(broken)).length, 0);
  const typo = structuredClone(deployment) as Record<string, unknown> & KubeObject;
  const pod = ((typo['spec'] as Record<string, unknown>)['template'] as { spec: { containers: Record<string, unknown>[] } }).spec;
  const container = pod.containers[0] ?? {};
  container['readinessprobe'] = container['readinessProbe'];
  t.deepEqual(unknownFields(typo), ['spec.template.spec.containers[0].readinessprobe: unknown field (V1Container)']);
  const export_ = { apiVersion: 'multicluster.x-k8s.io/v1alpha1', kind: 'ServiceImport', metadata: { name: 'x' }, spec: { type: 'Anycast', ports: [] } };
  t.not(validateCr(export_).length, 0);
});
