import { readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../common/errors.ts';
import { watchFolder } from '../../common/folder-watch.ts';
import type { Logger } from '../../common/log.ts';
import { ConfigError } from './config-error.ts';
import type { ConfigStore } from './config-interface.ts';
import { dedupeConfig, isConfigFile, listConfigFiles } from './config-load.ts';
import { type ParseOptions, parseConfigText } from './config-parse.ts';
import type { ConfigObject } from './config-types.ts';

export interface FolderConfigStoreOptions extends ParseOptions {
  /** Quiet period after the last file-system event before re-reading; default 100 ms. */
  debounceMs?: number;
}

interface FileState {
  text: string;
  /** The file's last good objects (kept while the current text has errors). */
  objects: ConfigObject[];
  errors: ConfigError[];
}

/**
 * A ConfigStore over a folder of YAML files, read recursively and watched. The folder is read once
 * synchronously when the store is created, so `list()` is complete from the start. After file
 * events (debounced) the folder is read again; only files whose text changed are parsed again.
 * A file that stops validating keeps its last good objects; a deleted file drops its objects.
 */
export function createFolderConfigStore(dir: string, logger: Logger, opts: FolderConfigStoreOptions = {}): ConfigStore {
  const debounceMs = opts.debounceMs ?? 100;
  const files = new Map<string, FileState>();
  const listeners: (() => void)[] = [];
  let dirError: ConfigError | undefined;
  let objects: ConfigObject[] = [];
  let errors: ConfigError[] = [];

  /** Re-reads the folder; returns true when objects or errors changed. */
  const scan = (): boolean => {
    let changed = false;
    let rels: string[];
    try {
      rels = listConfigFiles(dir);
      if (dirError) changed = true;
      dirError = undefined;
    } catch (e: unknown) {
      // Folder unreadable: keep every file's last good objects.
      const message = errorMessage(e);
      if (dirError?.message !== message) changed = true;
      dirError = new ConfigError({ code: 'CONFIG_IO', source: dir, path: '', message });
      rels = [...files.keys()];
    }
    for (const rel of [...files.keys()]) {
      if (!rels.includes(rel)) {
        files.delete(rel);
        changed = true;
      }
    }
    for (const rel of rels) {
      const prev = files.get(rel);
      let text: string;
      try {
        text = readFileSync(path.join(dir, rel), 'utf8');
      } catch (e: unknown) {
        if (dirError) continue;
        const io = new ConfigError({ code: 'CONFIG_IO', source: rel, path: '', message: errorMessage(e) });
        files.set(rel, { text: '', objects: prev?.objects ?? [], errors: [io] });
        changed = true;
        continue;
      }
      if (prev && prev.text === text && prev.errors.every((er) => er.code !== 'CONFIG_IO')) continue;
      const r = parseConfigText(text, rel, opts);
      files.set(rel, r.ok ? { text, objects: r.value, errors: [] } : { text, objects: prev?.objects ?? [], errors: r.errors });
      changed = true;
    }
    if (changed) {
      const all: ConfigObject[] = [];
      const errs: ConfigError[] = dirError ? [dirError] : [];
      for (const rel of [...files.keys()].sort()) {
        const f = files.get(rel);
        if (!f) continue;
        all.push(...f.objects);
        errs.push(...f.errors);
      }
      const deduped = dedupeConfig(all);
      const before = new Set(errors.map(String));
      objects = deduped.objects;
      errors = [...errs, ...deduped.errors];
      for (const e of errors) if (!before.has(String(e))) logger.warn({ code: e.code }, `config rejected: ${String(e)}`);
    }
    return changed;
  };

  scan();
  const watch = watchFolder(
    dir,
    logger,
    {
      recursive: true,
      debounceMs,
      what: 'config folder',
      accept: (name) => isConfigFile(name) || !name.includes('.'),
    },
    () => {
      if (scan()) for (const cb of listeners) cb();
    },
  );

  return {
    list: () => [...objects],
    errors: () => [...errors],
    onChange(cb) {
      listeners.push(cb);
    },
    close() {
      watch.close();
    },
  };
}
