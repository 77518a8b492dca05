import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { ImportedEndpoint, ImportSink } from './federation-interface.ts';
import { formatImportFile, importFileName, isImportClusterName } from './import-file.ts';

/** An ImportSink that writes the imports folder (see import-file.ts). */
export interface ImportFolderSink extends ImportSink {
  /** Cancels the leftover sweep; the files stay for the next controller to take over. */
  close(): void;
}

export interface ImportFolderSinkOptions {
  /**
   * Files already in the folder (from an earlier run) keep serving until the controller has had
   * this long to import their clusters again; those it did not touch are then removed.
   * Default 60 s: longer than a datacenter poll plus a blocking query's first answer.
   */
  leftoverGraceMs?: number;
}

/**
 * Writes each `replaceCluster` as `<dir>/<cluster>.json` (temp file, then rename, so the watcher
 * never reads half a file) and deletes it on `removeCluster`. Writes that change nothing are
 * skipped, so Pilot does not push for them. A failed write is logged; the controller's next
 * change writes the whole shard again.
 */
export function createImportFolderSink(dir: string, logger: Logger, opts: ImportFolderSinkOptions = {}): ImportFolderSink {
  mkdirSync(dir, { recursive: true });
  const written = new Map<string, string>();
  const leftovers = new Set(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .map((f) => f.slice(0, -'.json'.length)),
  );
  const remove = (cluster: string): void => {
    written.delete(cluster);
    try {
      rmSync(path.join(dir, importFileName(cluster)), { force: true });
    } catch (e: unknown) {
      logger.error({ cluster, err: errorMessage(e) }, 'cannot remove imports file');
    }
  };

  const sweep = setTimeout(() => {
    for (const cluster of leftovers) {
      logger.info({ cluster }, 'removing imports left by an earlier run');
      remove(cluster);
    }
    leftovers.clear();
  }, opts.leftoverGraceMs ?? 60_000);
  sweep.unref();

  return {
    replaceCluster(cluster: string, endpoints: ImportedEndpoint[]) {
      if (!isImportClusterName(cluster)) {
        logger.error({ cluster }, 'imports of a cluster with an invalid name dropped');
        return;
      }
      leftovers.delete(cluster);
      const text = formatImportFile(cluster, endpoints);
      if (written.get(cluster) === text) return;
      const tmp = path.join(dir, `.${importFileName(cluster)}.${process.pid}.tmp`);
      try {
        writeFileSync(tmp, text);
        renameSync(tmp, path.join(dir, importFileName(cluster)));
        written.set(cluster, text);
      } catch (e: unknown) {
        written.delete(cluster);
        rmSync(tmp, { force: true });
        logger.error({ cluster, err: errorMessage(e) }, 'cannot write imports file');
      }
    },
    removeCluster(cluster: string) {
      if (!isImportClusterName(cluster)) return;
      leftovers.delete(cluster);
      remove(cluster);
    },
    close() {
      clearTimeout(sweep);
    },
  };
}
