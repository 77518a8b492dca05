import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { errorCode, errorMessage } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { Authenticator, CallerIdentity } from './ca-service.ts';

/** The BootstrapTokenFile shape (src/common/workload.ts), validated. */
const TokenFileSchema = z.object({
  tokens: z.record(
    z.string().regex(/^[0-9a-f]{64}$/, 'key must be a lowercase hex sha256'),
    z.object({ namespace: z.string(), serviceAccount: z.string(), workload: z.string() }),
  ),
});

interface Entry {
  hash: Buffer;
  identity: CallerIdentity;
}

interface Loaded {
  mtimeMs: number;
  size: number;
  entries: Entry[];
}

/** Extracts the token of `authorization: Bearer <token>`; undefined when absent or malformed. */
export function bearerToken(metadata: grpc.Metadata): string | undefined {
  const values = metadata.get('authorization');
  if (values.length !== 1) return undefined;
  const match = /^Bearer +(\S+)$/i.exec(String(values[0]));
  return match?.[1];
}

/**
 * Authenticates `authorization: Bearer <token>` against a BootstrapTokenFile (sha256(token) hex →
 * identity). The file is re-read whenever its mtime or size changes (checked per call). A missing
 * file authenticates nobody; an unparsable file keeps the last good contents (and is logged).
 * Hashes are compared in constant time against every entry.
 */
export function bootstrapTokenAuthenticator(tokenFilePath: string, logger?: Logger): Authenticator {
  let loaded: Loaded = { mtimeMs: -1, size: -1, entries: [] };

  const refresh = async (): Promise<Entry[]> => {
    let st: { mtimeMs: number; size: number };
    try {
      st = await stat(tokenFilePath);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') {
        loaded = { mtimeMs: -1, size: -1, entries: [] };
        return [];
      }
      throw e;
    }
    if (st.mtimeMs === loaded.mtimeMs && st.size === loaded.size) return loaded.entries;
    try {
      const parsed = TokenFileSchema.parse(JSON.parse(await readFile(tokenFilePath, 'utf8')) as unknown);
      const entries = Object.entries(parsed.tokens).map(([hex, id]) => ({
        hash: Buffer.from(hex, 'hex'),
        identity: { namespace: id.namespace, serviceAccount: id.serviceAccount },
      }));
      loaded = { mtimeMs: st.mtimeMs, size: st.size, entries };
    } catch (e) {
      logger?.error({ file: tokenFilePath, err: errorMessage(e) }, 'token file invalid; keeping previous tokens');
      loaded = { ...loaded, mtimeMs: st.mtimeMs, size: st.size };
    }
    return loaded.entries;
  };

  return async (metadata) => {
    const token = bearerToken(metadata);
    if (token === undefined) return undefined;
    const hash = createHash('sha256').update(token).digest();
    let found: CallerIdentity | undefined;
    for (const entry of await refresh()) {
      if (timingSafeEqual(entry.hash, hash) && found === undefined) found = entry.identity;
    }
    return found;
  };
}
