import { request } from 'undici';

/**
 * Pilot's JWKS resolver, as istiod's: the key sets that RequestAuthentications name by `jwksUri`
 * are fetched by Pilot (undici), cached, refreshed every `refreshMs` (istiod's default 20 min), and
 * inlined into the proxies' JWT filters. A failed fetch keeps the last good set; a URI never
 * fetched has none (the generator then inlines an empty set, so tokens are not accepted). Failures
 * are retried every `retryMs`, reported by `errors()` and counted through `onFetch`.
 *
 * Who calls it: Pilot, with `want(uris)` on every snapshot build; `onChange` tells Pilot to rebuild
 * when a set arrives or changes. `current()` is one Map object until something changes, so
 * generators memoise on it.
 */

export interface JwksResolverOptions {
  /** Default 20 min. */
  refreshMs?: number;
  /** After a failed fetch; default 10 s. */
  retryMs?: number;
  /** Per fetch (headers and body); default 5 s. */
  timeoutMs?: number;
  /** Largest key set accepted; default 1 MiB. */
  maxBytes?: number;
  /** Called after each fetch (istiod's pilot_jwks_resolver_network_fetch_{success,fail}_total). */
  onFetch?: (ok: boolean) => void;
}

export interface JwksResolver {
  /** The URIs the current config names: new ones are fetched now, others forgotten. */
  want(uris: readonly string[]): void;
  current(): ReadonlyMap<string, string | undefined>;
  /** The URIs whose latest fetch failed, with why. */
  errors(): ReadonlyMap<string, string>;
  onChange(cb: () => void): void;
  close(): void;
}

interface Entry {
  jwks: string | undefined;
  error: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

/** Fetches and checks one key set: HTTP 200, JSON with a `keys` array, at most `maxBytes`. */
async function fetchJwks(uri: string, timeoutMs: number, maxBytes: number): Promise<string> {
  const res = await request(uri, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, headers: { accept: 'application/json' } });
  if (res.statusCode !== 200) {
    await res.body.dump();
    throw new Error(`HTTP ${res.statusCode}`);
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) {
      res.body.destroy();
      throw new Error(`key set larger than ${maxBytes} bytes`);
    }
    chunks.push(b);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  const keys = typeof v === 'object' && v !== null ? (v as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new Error('not a JSON Web Key Set (no keys array)');
  // Re-serialized: the same set always inlines as the same text.
  return JSON.stringify(v);
}

export function createJwksResolver(opts: JwksResolverOptions = {}): JwksResolver {
  const refreshMs = opts.refreshMs ?? 20 * 60_000;
  const retryMs = opts.retryMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const maxBytes = opts.maxBytes ?? 1 << 20;
  const entries = new Map<string, Entry>();
  const listeners: (() => void)[] = [];
  let snapshot: ReadonlyMap<string, string | undefined> = new Map();
  let closed = false;

  const changed = (): void => {
    snapshot = new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([uri, e]) => [uri, e.jwks]));
    for (const cb of listeners) cb();
  };

  const fetchOne = (uri: string): void => {
    void fetchJwks(uri, timeoutMs, maxBytes).then(
      (jwks) => ({ jwks, error: undefined }),
      (e: unknown) => ({ jwks: undefined, error: e instanceof Error ? e.message : String(e) }),
    ).then((r) => {
      const entry = entries.get(uri);
      if (closed || !entry) return;
      opts.onFetch?.(r.error === undefined);
      const before = entry.jwks;
      entry.error = r.error;
      if (r.jwks !== undefined) entry.jwks = r.jwks;
      entry.timer = setTimeout(() => fetchOne(uri), r.error === undefined ? refreshMs : retryMs);
      entry.timer.unref();
      if (entry.jwks !== before) changed();
    });
  };

  return {
    want(uris) {
      if (closed) return;
      const set = new Set(uris);
      let removed = false;
      for (const [uri, e] of entries) {
        if (set.has(uri)) continue;
        if (e.timer) clearTimeout(e.timer);
        entries.delete(uri);
        removed = true;
      }
      for (const uri of set) {
        if (entries.has(uri)) continue;
        entries.set(uri, { jwks: undefined, error: undefined, timer: undefined });
        fetchOne(uri);
      }
      if (removed) changed();
    },
    current: () => snapshot,
    errors: () => new Map([...entries].flatMap(([uri, e]): [string, string][] => (e.error !== undefined ? [[uri, e.error]] : []))),
    onChange(cb) {
      listeners.push(cb);
    },
    close() {
      closed = true;
      for (const e of entries.values()) if (e.timer) clearTimeout(e.timer);
      entries.clear();
    },
  };
}
