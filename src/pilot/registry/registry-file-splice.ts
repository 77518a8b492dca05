/**
 * Re-reading a large registry file (workloads.json) in proportion to what changed. A writer that
 * moves one replica rewrites the whole file, yet the new bytes differ from the old ones in one
 * short stretch. The file's layout (where each element of its top-level `workloads` array starts
 * and ends) is known from the previous read, so the elements wholly before and after the
 * changed stretch are the same bytes, hence the same JSON values; only the elements the stretch
 * touches are parsed again. Pure functions of their arguments.
 *
 * Exactness: the new file is the old file with the bytes between two element boundaries replaced.
 * The replacement is accepted only when it is, between the neighbouring elements' separators, a
 * JSON value sequence (checked by JSON.parse of `[`…`]`), so the new file is valid JSON exactly when
 * this says so, with the same value JSON.parse of the whole file gives. Anything else (a change
 * outside the array, a broken separator, a file whose layout is not plain) answers undefined, and
 * the caller parses the whole file.
 */

/** Where the elements of the `workloads` array lie in a file's bytes. */
export interface FileLayout {
  /** Offset just after the array's `[`. */
  readonly open: number;
  /** Offset of the array's `]`. */
  readonly close: number;
  /** Element i occupies bytes [starts[i], ends[i]) (no surrounding white space). */
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/** What changed between two versions of a file with a known layout. */
export interface WorkloadSplice {
  /** Elements [from, to) of the old array were replaced by `values`. */
  readonly from: number;
  readonly to: number;
  /** The new elements, as JSON.parse gives them. */
  readonly values: readonly unknown[];
  /** The layout of the new file. */
  readonly layout: FileLayout;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const isSpace = (c: number | undefined): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Offset just after the string starting at `i` (a `"`); -1 when it does not end. */
function skipString(buf: Buffer, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = buf[j];
    if (c === BACKSLASH) j++;
    else if (c === QUOTE) return j + 1;
  }
  return -1;
}

/**
 * Offset just after the value starting at `i` (not white space); -1 when it does not end before
 * `end`. Only the nesting is followed: whether the value is valid JSON is JSON.parse's business.
 */
function skipValue(buf: Buffer, i: number, end: number): number {
  const c = buf[i];
  if (c === QUOTE) return skipString(buf, i, end);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const d = buf[j];
      if (d === QUOTE) {
        j = skipString(buf, j, end) - 1;
        if (j < 0) return -1;
      } else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
      else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return -1;
  }
  // A literal or number: up to the next separator.
  let j = i;
  while (j < end && !isSpace(buf[j]) && buf[j] !== COMMA && buf[j] !== CLOSE_BRACE && buf[j] !== CLOSE_BRACKET) j++;
  return j > i ? j : -1;
}

function skipSpace(buf: Buffer, i: number, end: number): number {
  let j = i;
  while (j < end && isSpace(buf[j])) j++;
  return j;
}

/**
 * The spans of a comma-separated value sequence in buf[from, to) (white space allowed around
 * every value); undefined when it is not one. An empty stretch is an empty sequence.
 */
function sequenceSpans(buf: Buffer, from: number, to: number): { starts: number[]; ends: number[] } | undefined {
  const starts: number[] = [];
  const ends: number[] = [];
  let i = skipSpace(buf, from, to);
  if (i === to) return { starts, ends };
  for (;;) {
    const end = skipValue(buf, i, to);
    if (end < 0) return undefined;
    starts.push(i);
    ends.push(end);
    i = skipSpace(buf, end, to);
    if (i === to) return { starts, ends };
    if (buf[i] !== COMMA) return undefined;
    i = skipSpace(buf, i + 1, to);
    if (i === to) return undefined;
  }
}

/**
 * The layout of a registry file: a top-level object with exactly one `workloads` key whose value
 * is an array. Undefined for anything else (the caller then always parses whole files).
 */
export function scanLayout(buf: Buffer): FileLayout | undefined {
  const end = buf.length;
  let i = skipSpace(buf, 0, end);
  if (buf[i] !== OPEN_BRACE) return undefined;
  i = skipSpace(buf, i + 1, end);
  let found: FileLayout | undefined;
  while (i < end && buf[i] !== CLOSE_BRACE) {
    if (buf[i] !== QUOTE) return undefined;
    const keyEnd = skipString(buf, i, end);
    if (keyEnd < 0) return undefined;
    let key: unknown;
    try {
      key = JSON.parse(buf.toString('utf8', i, keyEnd));
    } catch {
      return undefined;
    }
    i = skipSpace(buf, keyEnd, end);
    if (buf[i] !== COLON) return undefined;
    i = skipSpace(buf, i + 1, end);
    const valueEnd = skipValue(buf, i, end);
    if (valueEnd < 0) return undefined;
    if (key === 'workloads') {
      if (found !== undefined || buf[i] !== OPEN_BRACKET) return undefined;
      const spans = sequenceSpans(buf, i + 1, valueEnd - 1);
      if (!spans) return undefined;
      found = { open: i + 1, close: valueEnd - 1, ...spans };
    }
    i = skipSpace(buf, valueEnd, end);
    if (buf[i] === COMMA) i = skipSpace(buf, i + 1, end);
  }
  return found;
}

/** Length of the common prefix of a and b. */
function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let lo = 0;
  // Whole chunks compare natively; the first differing chunk is then walked byte by byte.
  const CHUNK = 4096;
  while (lo + CHUNK <= n && a.compare(b, lo, lo + CHUNK, lo, lo + CHUNK) === 0) lo += CHUNK;
  while (lo < n && a[lo] === b[lo]) lo++;
  return lo;
}

/** Length of the common suffix of a and b, at most `max`. */
function commonSuffix(a: Buffer, b: Buffer, max: number): number {
  const CHUNK = 4096;
  let n = 0;
  while (n + CHUNK <= max && a.compare(b, b.length - n - CHUNK, b.length - n, a.length - n - CHUNK, a.length - n) === 0) n += CHUNK;
  while (n < max && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
  return n;
}

/**
 * The splice that turns `prev` (with layout `layout`) into `next`: which old elements were
 * replaced, by which values, and the new layout. Undefined when the change is not confined to the
 * array's elements or the replacement is not a value sequence (see the module comment). Equal
 * files give an empty splice.
 */
export function spliceWorkloads(prev: Buffer, layout: FileLayout, next: Buffer): WorkloadSplice | undefined {
  const p = commonPrefix(prev, next);
  if (p === prev.length && p === next.length) return { from: 0, to: 0, values: [], layout };
  const s = commonSuffix(prev, next, Math.min(prev.length, next.length) - p);
  const changeEnd = prev.length - s;
  if (p < layout.open || changeEnd > layout.close) return undefined;
  const n = layout.starts.length;
  // Old elements [from, to) are re-read: those the change touches, and at least one when there are any.
  let from = 0;
  while (from < n && (layout.ends[from] ?? 0) <= p) from++;
  let to = n;
  while (to > 0 && (layout.starts[to - 1] ?? 0) >= changeEnd) to--;
  if (from >= to && n > 0) {
    if (from < n) to = from + 1;
    else from = to - 1;
  }
  const left = from > 0;
  const right = to < n;
  const lo = left ? (layout.ends[from - 1] ?? 0) : layout.open;
  const delta = next.length - prev.length;
  const hi = (right ? (layout.starts[to] ?? 0) : layout.close) + delta;
  // Between the kept neighbours: the new elements with the separators the neighbours need. With
  // no new element, the window holds one separator between two neighbours, else none.
  let a = skipSpace(next, lo, hi);
  let b = hi;
  while (b > a && isSpace(next[b - 1])) b--;
  let spans: { starts: number[]; ends: number[] } | undefined;
  if (a === b) {
    if (left && right) return undefined;
    spans = { starts: [], ends: [] };
  } else if (b === a + 1 && next[a] === COMMA) {
    if (!(left && right)) return undefined;
    spans = { starts: [], ends: [] };
    a = b;
  } else {
    if (left) {
      if (next[a] !== COMMA) return undefined;
      a++;
    }
    if (right) {
      if (next[b - 1] !== COMMA || b - 1 < a) return undefined;
      b--;
    }
    spans = sequenceSpans(next, a, b);
    if (!spans || spans.starts.length === 0) return undefined;
  }
  let values: unknown;
  try {
    values = JSON.parse(`[${next.toString('utf8', a, b)}]`);
  } catch {
    return undefined;
  }
  if (!Array.isArray(values) || values.length !== spans.starts.length) return undefined;
  const shift = (xs: readonly number[]): number[] => xs.slice(to).map((x) => x + delta);
  return {
    from,
    to,
    values,
    layout: {
      open: layout.open,
      close: layout.close + delta,
      starts: [...layout.starts.slice(0, from), ...spans.starts, ...shift(layout.starts)],
      ends: [...layout.ends.slice(0, from), ...spans.ends, ...shift(layout.ends)],
    },
  };
}
