import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { clusterPaths, writeClusterFiles } from '../../src/cli/runner/cluster-files.ts';
import { parseTopology } from '../../src/cli/runner/topology.ts';
import { parseMeshConfigText } from '../../src/pilot/config/mesh-config.ts';

/**
 * The topology's `spec.meshConfig`: validated with the topology (errors with their path), and
 * written with the trust domain to each cluster's mesh.yaml, which the control plane parses.
 */
function topology(meshConfig?: unknown, trustDomain = 'east.example'): unknown {
  return {
    apiVersion: 'meshfed.dev/v1alpha1',
    kind: 'LocalMesh',
    metadata: { name: 'm' },
    spec: { trustDomain, ...(meshConfig !== undefined ? { meshConfig } : {}), clusters: [{ name: 'east' }] },
  };
}

const ROWS: { name: string; meshConfig?: unknown; error?: string }[] = [
  { name: 'absent: every default' },
  { name: 'aliases and normalization', meshConfig: { trustDomainAliases: ['old.example'], pathNormalization: { normalization: 'MERGE_SLASHES' } } },
  { name: 'an unsupported field, with its path', meshConfig: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }, error: 'spec.meshConfig.outboundTrafficPolicy: is not supported' },
  { name: 'a trust domain that disagrees', meshConfig: { trustDomain: 'west.example' }, error: 'spec.meshConfig.trustDomain: differs from spec.trustDomain (east.example)' },
];

for (const row of ROWS) {
  test(`topology meshConfig: ${row.name}`, async (t) => {
    const r = parseTopology(topology(row.meshConfig), '/tmp/mesh.yaml');
    if (row.error !== undefined) {
      t.false(r.ok);
      if (!r.ok) t.true(r.errors.some((e) => e.startsWith(row.error ?? '')), r.errors.join('\n'));
      return;
    }
    t.true(r.ok, r.ok ? '' : r.errors.join('\n'));
    if (!r.ok) return;
    const dir = await mkdtemp(path.join(tmpdir(), 'meshfed-meshcfg-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const paths = clusterPaths(dir, 'east');
    const cluster = r.value.clusters[0];
    if (!cluster) return t.fail('no cluster');
    await writeClusterFiles(paths, cluster, [], '127.180.5.1', r.value);
    const written = parseMeshConfigText(await readFile(paths.meshConfigFile, 'utf8'), paths.meshConfigFile);
    t.true(written.ok, written.ok ? '' : written.errors.map(String).join('\n'));
    if (!written.ok) return;
    t.is(written.value.trustDomain, 'east.example');
    t.deepEqual(written.value.trustDomainAliases, (row.meshConfig as { trustDomainAliases?: string[] } | undefined)?.trustDomainAliases ?? []);
  });
}
