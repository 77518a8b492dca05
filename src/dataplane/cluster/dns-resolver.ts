import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { errorCode, errorMessage } from '../../common/errors.ts';
import { fail, ok, type Result } from '../../common/result.ts';
import type { SocketAddr } from '../../xds/config-types.ts';
import { DnsResolutionError } from './errors.ts';

/** One DNS answer: IPv4 addresses in answer order and the smallest TTL among them (seconds, 0: none). */
export interface DnsAnswer {
  addresses: string[];
  ttlSeconds: number;
}

/**
 * Resolves a name to IPv4 addresses. A name that does not exist or has no A record resolves to no
 * addresses (as Envoy's c-ares resolver completes with an empty answer); other failures (timeout,
 * refused, SERVFAIL) are errors. Never throws or rejects.
 */
export type DnsLookup = (name: string) => Promise<Result<DnsAnswer, DnsResolutionError>>;

const EMPTY_CODES: ReadonlySet<string> = new Set<string>([dns.NOTFOUND, dns.NODATA]);

/**
 * A DnsLookup over c-ares (Node's `dns.Resolver`), asking `servers` (host and port) or, when
 * empty, the system's resolvers (/etc/resolv.conf). Shared by the proxies' DNS clusters.
 */
export function createDnsLookup(servers: readonly SocketAddr[], timeoutMs = 2000): DnsLookup {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers.map((s) => (isIP(s.host) === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)));
  return async (name) => {
    if (isIP(name) === 4) return ok({ addresses: [name], ttlSeconds: 0 });
    try {
      const records = await resolver.resolve4(name, { ttl: true });
      const ttl = records.length > 0 ? Math.min(...records.map((r) => r.ttl)) : 0;
      return ok({ addresses: records.map((r) => r.address), ttlSeconds: ttl });
    } catch (e: unknown) {
      const code = errorCode(e);
      if (code !== undefined && EMPTY_CODES.has(code)) return ok({ addresses: [], ttlSeconds: 0 });
      return fail(new DnsResolutionError(name, errorMessage(e), { cause: e }));
    }
  };
}
