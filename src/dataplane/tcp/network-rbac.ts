import type { ConnectionFacts, FilterRequest, FilterStatSink } from '../http/http-filter-interface.ts';
import { matchedPolicy, rulesAllow } from '../http/http-filter-rbac.ts';
import type { TcpFilterChain } from '../../xds/config-types.ts';

/**
 * Envoy's network RBAC filter (`envoy.extensions.filters.network.rbac.v3.RBAC`) on a TCP chain:
 * decided once per connection, before any byte is proxied, from the connection alone (peer
 * principal, addresses, destination port, SNI), with the same matchers as the HTTP RBAC filter;
 * the validator has refused request-only matchers. Filters run in order: a LOG filter never
 * denies; the first ALLOW or DENY filter that refuses ends it. Stats, under each filter's
 * `stat_prefix`: `rbac.allowed`, `rbac.denied`, `rbac.logged` / `rbac.not_logged`.
 */

/** The request a TCP connection is to the shared matchers: no method, path, host or headers. */
function connectionRequest(connection: ConnectionFacts): FilterRequest {
  return {
    request: { method: '', path: '', authority: '', scheme: '', headers: {} },
    route: { name: '', match: { prefix: '/', caseSensitive: true, headers: [], queryParameters: [] }, clusters: [], mirrors: [], perFilter: {} },
    flags: [],
    random: Math.random,
    connection,
  };
}

/** True when every network RBAC filter of `chain` lets the connection through. */
export function networkRbacAllows(chain: TcpFilterChain, connection: ConnectionFacts, stat: FilterStatSink): boolean {
  const filters = chain.rbac ?? [];
  if (filters.length === 0) return true;
  const req = connectionRequest(connection);
  for (const f of filters) {
    if (f.rules.action === 'LOG') {
      stat(`${f.statPrefix}rbac.${matchedPolicy(f.rules, req) !== undefined ? 'logged' : 'not_logged'}`);
      continue;
    }
    if (!rulesAllow(f.rules, req)) {
      stat(`${f.statPrefix}rbac.denied`);
      return false;
    }
    stat(`${f.statPrefix}rbac.allowed`);
  }
  return true;
}
