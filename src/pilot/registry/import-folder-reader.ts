import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../../common/errors.ts';
import { watchFolder } from '../../common/folder-watch.ts';
import type { Logger } from '../../common/log.ts';
import type { ImportSink } from '../../federation/federation-interface.ts';
import { parseImportFile } from '../../federation/import-file.ts';

/** A watched imports folder; see src/federation/import-file.ts for the format. */
export interface ImportFolderReader {
  /** Problems of the current files, each `file: path: message`; their last good imports stay. */
  errors(): string[];
  close(): void;
}

function isImportFile(name: string): boolean {
  return name.endsWith('.json') && !name.startsWith('.') && !name.includes(path.sep);
}

/**
 * Feeds the imports folder written by `meshfed federation` into Pilot's federation registry: a
 * file written or replaced becomes `replaceCluster`, a file deleted becomes `removeCluster`. The
 * folder is read at once (created when missing), then on every settled change.
 */
export function readImportFolder(dir: string, sink: ImportSink, logger: Logger, opts: { debounceMs?: number } = {}): ImportFolderReader {
  mkdirSync(dir, { recursive: true });
  /** file name → { text last seen, cluster of the last good content } */
  const files = new Map<string, { text: string; cluster?: string }>();
  const problems = new Map<string, string[]>();

  const scan = (): void => {
    let names: string[];
    try {
      names = readdirSync(dir).filter(isImportFile);
    } catch (e: unknown) {
      logger.warn({ dir, err: errorMessage(e) }, 'cannot read imports folder; keeping the last imports');
      return;
    }
    for (const [name, seen] of files) {
      if (names.includes(name)) continue;
      files.delete(name);
      problems.delete(name);
      if (seen.cluster !== undefined) sink.removeCluster(seen.cluster);
    }
    for (const name of names) {
      let text: string;
      try {
        text = readFileSync(path.join(dir, name), 'utf8');
      } catch {
        continue; // replaced or removed between the listing and the read: the next event covers it
      }
      const seen = files.get(name);
      if (seen?.text === text) continue;
      const r = parseImportFile(text, name);
      if (!r.ok) {
        files.set(name, { text, ...(seen?.cluster !== undefined ? { cluster: seen.cluster } : {}) });
        problems.set(name, r.errors.map((e) => `${name}: ${e}`));
        logger.warn({ file: name, errors: r.errors }, 'imports file rejected; keeping its last good imports');
        continue;
      }
      files.set(name, { text, cluster: r.value.cluster });
      problems.delete(name);
      sink.replaceCluster(r.value.cluster, r.value.endpoints);
    }
  };

  scan();
  const watch = watchFolder(dir, logger, { debounceMs: opts.debounceMs ?? 50, what: 'imports folder', accept: isImportFile }, scan);
  return {
    errors: () => [...problems.values()].flat(),
    close: () => watch.close(),
  };
}
