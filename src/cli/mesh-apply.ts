import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { fail, ok, type Result } from '../common/result.ts';
import { configKey, loadConfigPaths, parseConfigText } from '../pilot/index.ts';
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
 * object. As with `kubectl apply`, the object then exists once: a copy from the topology's config
 * (`config/source/`) is taken out of its file. Pilot picks the change up and pushes it. Returns
 * kubectl-style lines.
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
        const existedApplied = statSync(target, { throwIfNoEntry: false }) !== undefined;
        await writeAtomically(target, text);
        const existedElsewhere = await removeFromOtherFiles(cluster.configDir, appliedDir, configKey(o));
        const existed = existedApplied || existedElsewhere;
        lines.push(`${o.kind.toLowerCase()}/${o.metadata.namespace}/${o.metadata.name} ${existed ? 'configured' : 'created'} in cluster ${clusterName}`);
      }
    }
  }
  return ok(lines);
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/**
 * Takes the object `key` out of every config file outside `appliedDir` (rewriting multi-document
 * files without it, deleting files left empty). The applied copy is written first and sorts first,
 * so Pilot never sees the object missing. Returns whether a copy was found.
 */
async function removeFromOtherFiles(configDir: string, appliedDir: string, key: string): Promise<boolean> {
  let found = false;
  for (const file of yamlFiles(configDir)) {
    if (!path.relative(appliedDir, file).startsWith('..')) continue;
    const docs = parseAllDocuments(readFileSync(file, 'utf8'));
    const keep = docs.filter((d) => {
      const parsed = parseConfigText(d.toString(), file);
      return !(parsed.ok && parsed.value.some((o) => configKey(o) === key));
    });
    if (keep.length === docs.length) continue;
    found = true;
    if (keep.length === 0) await rm(file);
    else await writeAtomically(file, keep.map((d) => d.toString()).join('---\n'));
  }
  return found;
}
