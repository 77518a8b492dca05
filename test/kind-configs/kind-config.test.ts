import { readFile } from 'node:fs/promises';
import test from 'ava';
import { parse } from 'yaml';
import { type KindCluster, kindClusterSchema, kindConfigProblems } from '../support/kind-config-schema.ts';

/**
 * The committed kind cluster configs use only kind's v1alpha4 fields, give each cluster its own pod
 * and service CIDRs, and map the east-west gateway's NodePort (31443, `meshfed install`'s default)
 * to a distinct host port. Binds nothing.
 */
async function load(name: string): Promise<KindCluster> {
  const doc: unknown = parse(await readFile(`kind-configs/${name}.yaml`, 'utf8'));
  const problems = kindConfigProblems(doc);
  if (problems.length > 0) throw new Error(`${name}.yaml: ${problems.join('; ')}`);
  return kindClusterSchema.parse(doc);
}

/** The [first, last] addresses of an IPv4 CIDR as numbers. */
function range(cidr: string): [number, number] {
  const [ip, bits] = cidr.split('/') as [string, string];
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  return [n, n + size - 1];
}

function overlaps(a: string, b: string): boolean {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}

test('east and west use only kind v1alpha4 fields', async (t) => {
  for (const name of ['east', 'west']) t.is((await load(name)).name, name);
});

test('the field check rejects what kind would silently drop', (t) => {
  const rows: [string, unknown][] = [
    ['misspelt networking field', { kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', networking: { podSubnets: '10.0.0.0/16' } }],
    ['unknown node role', { kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', nodes: [{ role: 'master' }] }],
    ['old apiVersion', { kind: 'Cluster', apiVersion: 'kind.sigs.k8s.io/v1alpha3' }],
    ['port mapping typo', { kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', nodes: [{ extraPortMappings: [{ containerport: 80 }] }] }],
  ];
  for (const [name, doc] of rows) t.not(kindConfigProblems(doc).length, 0, name);
});

test('pod and service CIDRs are distinct across the clusters; the gateway NodePort maps to distinct host ports', async (t) => {
  const configs = await Promise.all(['east', 'west'].map(load));
  const cidrs = configs.flatMap((c) => [c.networking?.podSubnet ?? '', c.networking?.serviceSubnet ?? '']);
  for (let i = 0; i < cidrs.length; i++) {
    for (let j = i + 1; j < cidrs.length; j++) t.false(overlaps(cidrs[i] ?? '', cidrs[j] ?? ''), `${cidrs[i]} overlaps ${cidrs[j]}`);
  }
  const hostPorts = configs.map((c) => c.nodes?.[0]?.extraPortMappings?.find((m) => m.containerPort === 31443)?.hostPort);
  t.deepEqual(hostPorts, [15443, 25443]);
});
