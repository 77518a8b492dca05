import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from './errors.ts';
import { type FolderWatch, watchFolder } from './folder-watch.ts';
import type { Logger } from './log.ts';

/** Options of watchFileContents. */
export interface FileContentWatchOptions {
  /** Quiet period after the last change before the files are read (default 200 ms). */
  debounceMs?: number;
  /** What is watched, for log lines (`trust bundle`, `CA folder`). */
  what: string;
  /** The contents the caller already loaded (the baseline); read at start when omitted. */
  initial?: readonly string[];
}

/**
 * Watches files (a trust bundle, a plug-in CA folder) and calls `onChange` with all their contents
 * whenever any of them differs from what was last delivered. The folders holding the files are
 * watched, not the files, so that replacing a file by a rename (writeAtomic, a Kubernetes volume's
 * `..data` swap) is seen. The baseline (`initial`, or the contents read at start) is not delivered. An
 * unreadable file is logged and skipped until it reads again; `onChange` failing is logged, and
 * the same contents are offered again on the next change. Never throws.
 */
export function watchFileContents(
  files: readonly string[],
  logger: Logger,
  opts: FileContentWatchOptions,
  onChange: (contents: string[]) => void | Promise<void>,
): FolderWatch {
  let last: string | undefined = opts.initial ? JSON.stringify(opts.initial) : undefined;
  let running: Promise<void> = Promise.resolve();
  let closed = false;
  const read = async (): Promise<string[] | undefined> => {
    try {
      return await Promise.all(files.map((f) => readFile(f, 'utf8')));
    } catch (e: unknown) {
      logger.warn({ files, err: errorMessage(e) }, `cannot read the ${opts.what}; keeping what was loaded`);
      return undefined;
    }
  };
  const check = (): void => {
    running = running.then(async () => {
      const contents = await read();
      if (closed || contents === undefined) return;
      const key = JSON.stringify(contents);
      if (key === last) return;
      try {
        await onChange(contents);
        last = key;
      } catch (e: unknown) {
        logger.warn({ files, err: errorMessage(e) }, `${opts.what} not applied; keeping what was loaded`);
      }
    });
  };
  if (last === undefined) {
    running = read().then((contents) => {
      if (contents !== undefined && last === undefined) last = JSON.stringify(contents);
    });
  }
  const folders = [...new Set(files.map((f) => path.dirname(path.resolve(f))))];
  const watches = folders.map((dir) => watchFolder(dir, logger, { debounceMs: opts.debounceMs ?? 200, what: opts.what }, check));
  return {
    close() {
      closed = true;
      for (const w of watches) w.close();
    },
  };
}
