/**
 * Structural sharing between consecutive snapshots: a part of the new snapshot that equals the
 * previous snapshot's part under the same key is replaced by the previous object itself, so later
 * stages (diffSnapshots, generator memos, the push server's per-object encodings) recognise it as
 * unchanged by identity. Used by buildSnapshot only; the snapshot stays immutable.
 */
import { sameData } from '../../common/same-data.ts';

/** `next`, or the previous map's value under `key` when it is equal data. */
export function shared<V>(previous: ReadonlyMap<string, V> | undefined, key: string, next: V): V {
  const prev = previous?.get(key);
  return prev !== undefined && sameData(prev, next) ? prev : next;
}
