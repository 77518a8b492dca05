import type http from 'node:http';
import { computeHashKey, type HashResult } from '../dataplane/cluster/index.ts';
import type { HashPolicyConfig } from '../xds/config-types.ts';

/**
 * The hash key of an outbound request for its route's `hash_policy` (RING_HASH / MAGLEV
 * clusters), from its headers, cookies, query and the app's address. Called by the outbound
 * listener only for routes that have a hash policy; the result's `setCookie`, when present, goes
 * on the response.
 */
export function routeHash(
  policies: readonly HashPolicyConfig[],
  req: { headers: http.IncomingHttpHeaders; path: string; socket: { remoteAddress?: string | undefined; remotePort?: number | undefined } },
): HashResult {
  return computeHashKey(policies, {
    headers: req.headers,
    path: req.path,
    sourceIp: req.socket.remoteAddress,
    sourcePort: req.socket.remotePort,
  });
}
