import { type FSWatcher, readdirSync, watch } from 'node:fs';
import path from 'node:path';
import { errorMessage } from './errors.ts';
import type { Logger } from './log.ts';

export interface FolderWatchOptions {
  /** Watch sub-folders too, including ones created later. */
  recursive?: boolean;
  /** Which changed names (relative to the folder) matter; a null name always does. */
  accept?: (name: string) => boolean;
  /** Quiet period after the last accepted event before `onSettled` runs. */
  debounceMs: number;
  /** What is watched, for log lines (`config folder`, `workload registry`). */
  what: string;
}

/** A running watch; `close()` is idempotent and cancels a pending `onSettled`. */
export interface FolderWatch {
  close(): void;
}

/** `dir` and every folder below it (symbolic links are not followed). */
function foldersUnder(dir: string): string[] {
  const out = [dir];
  for (let i = 0; i < out.length; i++) {
    const current = out[i] ?? dir;
    try {
      for (const e of readdirSync(current, { withFileTypes: true })) if (e.isDirectory()) out.push(path.join(current, e.name));
    } catch {
      // Vanished or unreadable: the owner's next read reports it.
    }
  }
  return out;
}

/**
 * Watches a folder and calls `onSettled` once the events have been quiet for `debounceMs`, with
 * the time (epoch ms) of the last accepted event, so a consumer with its own quiet period can
 * count it from there rather than wait twice.
 * Each folder gets its own watch, rather than Node's `recursive` option: on Linux, Node 20's
 * recursive watch stops reporting a file once it has been replaced by a rename (the way editors
 * and `meshfed apply` write), while a folder's own watch sees every entry. New sub-folders are
 * picked up after each settled batch. A folder that cannot be watched is logged, not thrown: the
 * caller keeps what it read.
 */
export function watchFolder(dir: string, logger: Logger, opts: FolderWatchOptions, onSettled: (lastEventAt: number) => void): FolderWatch {
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastEventAt = 0;

  const schedule = (): void => {
    if (closed) return;
    lastEventAt = Date.now();
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      if (opts.recursive) sync();
      onSettled(lastEventAt);
    }, opts.debounceMs);
  };

  const add = (folder: string): void => {
    try {
      const w = watch(folder, (_event, name) => {
        if (name === null) return schedule();
        const rel = path.relative(dir, path.join(folder, String(name)));
        if (opts.accept === undefined || opts.accept(rel) || watchers.has(path.join(dir, rel))) schedule();
      });
      w.on('error', (e: unknown) => {
        watchers.delete(folder);
        w.close();
        if (folder === dir) logger.warn({ dir, err: errorMessage(e) }, `${opts.what} watch failed`);
      });
      watchers.set(folder, w);
    } catch (e: unknown) {
      if (folder === dir) logger.warn({ dir, err: errorMessage(e) }, `cannot watch ${opts.what}; changes will not be seen`);
    }
  };

  const sync = (): void => {
    const wanted = new Set(opts.recursive ? foldersUnder(dir) : [dir]);
    for (const [folder, w] of watchers) {
      if (wanted.has(folder)) continue;
      w.close();
      watchers.delete(folder);
    }
    for (const folder of wanted) if (!watchers.has(folder)) add(folder);
  };

  sync();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
