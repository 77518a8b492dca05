import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../common/errors.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import { ConfigError } from './config-error.ts';
import { type ParseOptions, parseConfigText } from './config-parse.ts';
import { type ConfigObject, configKey } from './config-types.ts';

/** True for files the config readers consider: `*.yaml` / `*.yml`, not hidden (editor temp files). */
export function isConfigFile(name: string): boolean {
  const base = path.basename(name);
  return !base.startsWith('.') && /\.ya?ml$/.test(base);
}

/** Every config file under `dir` (recursive), as paths relative to `dir`, sorted. */
export function listConfigFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const child = rel === '' ? entry.name : path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile() && isConfigFile(entry.name)) out.push(child);
    }
  };
  walk('');
  return out.sort();
}

/**
 * Keeps the first object of each kind/namespace/name (objects are taken in the order given) and
 * reports the others as duplicates. Returns the kept objects sorted by kind, namespace, name.
 */
export function dedupeConfig(objects: readonly ConfigObject[]): { objects: ConfigObject[]; errors: ConfigError[] } {
  const byKey = new Map<string, ConfigObject>();
  const errors: ConfigError[] = [];
  for (const o of objects) {
    const key = configKey(o);
    const first = byKey.get(key);
    if (first) {
      errors.push(
        new ConfigError({
          code: 'CONFIG_DUPLICATE',
          source: o.source,
          kind: o.kind,
          name: `${o.metadata.namespace}/${o.metadata.name}`,
          path: '',
          message: `already defined in ${first.source}`,
        }),
      );
    } else byKey.set(key, o);
  }
  const sorted = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  return { objects: sorted, errors };
}

/**
 * Reads and validates config files and folders (folders recursively, `*.yaml`/`*.yml`). Used by
 * `meshfed apply`-style validation and by the runner: any error fails the whole load, with every
 * problem listed.
 */
export function loadConfigPaths(paths: readonly string[], opts: ParseOptions = {}): Result<ConfigObject[], ConfigError[]> {
  const objects: ConfigObject[] = [];
  const errors: ConfigError[] = [];
  const readOne = (file: string): void => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e: unknown) {
      errors.push(new ConfigError({ code: 'CONFIG_IO', source: file, path: '', message: errorMessage(e) }));
      return;
    }
    const r = parseConfigText(text, file, opts);
    if (r.ok) objects.push(...r.value);
    else errors.push(...r.errors);
  };
  for (const p of paths) {
    try {
      if (statSync(p).isDirectory()) {
        for (const rel of listConfigFiles(p)) readOne(path.join(p, rel));
        continue;
      }
    } catch (e: unknown) {
      errors.push(new ConfigError({ code: 'CONFIG_IO', source: p, path: '', message: errorMessage(e) }));
      continue;
    }
    readOne(p);
  }
  const deduped = dedupeConfig(objects);
  errors.push(...deduped.errors);
  return errors.length > 0 ? fail(errors) : ok(deduped.objects);
}
