import type { IncomingHttpHeaders } from 'node:http';
import type { HashPolicyConfig } from '../../xds/config-types.ts';
import { combineHashes, xxHash64 } from './hash.ts';

/** What the router knows of a request when it computes the hash key. */
export interface HashInput {
  headers: IncomingHttpHeaders;
  /** Path with query string. */
  path: string;
  /** The downstream peer's address and port (source IP hashing; generated cookies). */
  sourceIp: string | undefined;
  sourcePort: number | undefined;
}

/** The hash key and, for a cookie policy with a TTL whose cookie was absent, the Set-Cookie to send back. */
export interface HashResult {
  hashKey: bigint | undefined;
  setCookie: string | undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const v = part.slice(eq + 1).trim();
    return v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v;
  }
  return undefined;
}

/**
 * Computes a request's hash key from a route's `hash_policy`, as Envoy's router does: each
 * policy that yields a value hashes it with xxHash64; several are combined (rotate, xor); a
 * `terminal` policy that yielded a value stops the walk. Policies:
 * - header: the header's value (several values joined with `,`);
 * - cookie: the cookie's value; when absent and a TTL is set, a cookie is generated from the
 *   downstream address (hex xxHash64 of `ip:port`) and returned as `setCookie`, and its value is
 *   hashed (TTL 0: a session cookie);
 * - source-ip: the downstream IP;
 * - query: the first value of the query parameter.
 * No value from any policy: `hashKey` undefined (ring hash / Maglev then pick at random). Pure.
 */
export function computeHashKey(policies: readonly HashPolicyConfig[], input: HashInput): HashResult {
  let hash: bigint | undefined;
  let setCookie: string | undefined;
  for (const p of policies) {
    let value: string | undefined;
    switch (p.kind) {
      case 'header': {
        const v = input.headers[p.name];
        value = Array.isArray(v) ? v.join(',') : v;
        break;
      }
      case 'cookie': {
        value = cookieValue(input.headers.cookie, p.name);
        if (value === undefined && p.ttlMs !== undefined) {
          value = xxHash64(`${input.sourceIp ?? ''}:${input.sourcePort ?? 0}`).toString(16).padStart(16, '0');
          const attrs = [`${p.name}="${value}"`];
          if (p.ttlMs > 0) attrs.push(`Max-Age=${Math.floor(p.ttlMs / 1000)}`);
          if (p.path !== undefined) attrs.push(`Path=${p.path}`);
          attrs.push('HttpOnly');
          setCookie = attrs.join('; ');
        }
        break;
      }
      case 'source-ip':
        value = input.sourceIp;
        break;
      case 'query': {
        const q = input.path.indexOf('?');
        if (q !== -1) value = new URLSearchParams(input.path.slice(q + 1)).get(p.name) ?? undefined;
        break;
      }
    }
    if (value === undefined) continue;
    hash = combineHashes(hash, xxHash64(value));
    if (p.terminal) break;
  }
  return { hashKey: hash, setCookie };
}
