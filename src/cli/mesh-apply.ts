import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { fail, ok, type Result } from '../common/result.ts';
import { loadConfigPaths, parseConfigText } from '../pilot/index.ts';
import type { MeshState } from './runner/state-file.ts';

function yamlFiles(p: string): string[] {
  if (!statSync(p, { throwIfNoEntry: false })?.isDirectory()) return [p];
  return readdirSync(p, { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f) && !path.basename(f).startsWith('.'))
    .sort()
    .map((f) => path.join(p, f));
}

/**
 * `meshfed apply`: validates every document of the given files (all or nothing: one bad field and
 * nothing is applied), then writes each object as its own file into the cluster's watched config
 * folder (`config/applied/<kind>.<namespace>.<name>.yaml`), replacing an earlier apply of the same
 * object. Pilot picks the change up and pushes it. Returns kubectl-style lines.
 */
export async function applyConfig(state: MeshState, clusterName: string, paths: string[]): Promise<Result<string[]>> {
  const cluster = state.clusters.find((c) => c.name === clusterName);
  if (!cluster) return fail([`no cluster "${clusterName}" in mesh ${state.name} (have: ${state.clusters.map((c) => c.name).join(', ')})`]);
  for (const p of paths) if (!statSync(p, { throwIfNoEntry: false })) return fail([`${p}: no such file or folder`]);
  const checked = loadConfigPaths(paths);
  if (!checked.ok) return fail(checked.errors.map(String));

  const appliedDir = path.join(cluster.configDir, 'applied');
  await mkdir(appliedDir, { recursive: true });
  const lines: string[] = [];
  for (const file of paths.flatMap(yamlFiles)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const text = doc.toString();
      const parsed = parseConfigText(text, file);
      if (!parsed.ok) return fail(parsed.errors.map(String));
      for (const o of parsed.value) {
        const name = `${o.kind.toLowerCase()}.${o.metadata.namespace}.${o.metadata.name}.yaml`;
        const target = path.join(appliedDir, name);
        const existed = statSync(target, { throwIfNoEntry: false }) !== undefined;
        await writeFile(`${path.join(appliedDir, `.${name}.tmp`)}`, text);
        await rename(path.join(appliedDir, `.${name}.tmp`), target);
        lines.push(`${o.kind.toLowerCase()}/${o.metadata.namespace}/${o.metadata.name} ${existed ? 'configured' : 'created'} in cluster ${clusterName}`);
      }
    }
  }
  return ok(lines);
}
