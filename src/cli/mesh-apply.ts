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

/** What `meshfed delete` did: kubectl-style lines, and the objects that were not there. */
export interface DeleteOutcome {
  deleted: string[];
  notFound: string[];
}

/** The kind, namespace and name of each document: all `delete` needs (a spec need not be valid). */
function objectKeys(file: string): Result<{ kind: string; namespace: string; name: string }[]> {
  const out: { kind: string; namespace: string; name: string }[] = [];
  const errors: string[] = [];
  parseAllDocuments(readFileSync(file, 'utf8')).forEach((doc, i) => {
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) return;
    const o = typeof v === 'object' ? (v as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } }) : {};
    const name = o.metadata?.name;
    const namespace = o.metadata?.namespace ?? 'default';
    if (typeof o.kind !== 'string' || typeof name !== 'string' || typeof namespace !== 'string') {
      errors.push(`${file}: document ${i + 1}: kind and metadata.name are required`);
      return;
    }
    out.push({ kind: o.kind, namespace, name });
  });
  return errors.length > 0 ? fail(errors) : ok(out);
}

/**
 * `meshfed delete`: as `kubectl delete -f`, takes every object named in the given files out of the
 * cluster's config (the applied copy and any copy in the topology's config files). Objects that are
 * not there are reported; the others are deleted anyway.
 */
export async function deleteConfig(state: MeshState, clusterName: string, paths: string[]): Promise<Result<DeleteOutcome>> {
  const cluster = state.clusters.find((c) => c.name === clusterName);
  if (!cluster) return fail([`no cluster "${clusterName}" in mesh ${state.name} (have: ${state.clusters.map((c) => c.name).join(', ')})`]);
  for (const p of paths) if (!statSync(p, { throwIfNoEntry: false })) return fail([`${p}: no such file or folder`]);
  const objects: { kind: string; namespace: string; name: string }[] = [];
  for (const file of paths.flatMap(yamlFiles)) {
    const keys = objectKeys(file);
    if (!keys.ok) return keys;
    objects.push(...keys.value);
  }
  const appliedDir = path.join(cluster.configDir, 'applied');
  const outcome: DeleteOutcome = { deleted: [], notFound: [] };
  for (const o of objects) {
    const applied = path.join(appliedDir, `${o.kind.toLowerCase()}.${o.namespace}.${o.name}.yaml`);
    const wasApplied = statSync(applied, { throwIfNoEntry: false }) !== undefined;
    if (wasApplied) await rm(applied);
    const wasElsewhere = await removeFromOtherFiles(cluster.configDir, appliedDir, configKey({ kind: o.kind, metadata: o }));
    const line = `${o.kind.toLowerCase()}/${o.namespace}/${o.name}`;
    if (wasApplied || wasElsewhere) outcome.deleted.push(`${line} deleted from cluster ${clusterName}`);
    else outcome.notFound.push(`${line} not found in cluster ${clusterName}`);
  }
  return ok(outcome);
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
